"""This checker against the original tracker's method (two plain `pip wheel` builds), same packages.

The original built with ``pip wheel --no-binary :all: --no-cache-dir`` twice in default temp
dirs.  Both are timed in this process, on the same interpreter, so the ratio is fair.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.environments import create_venv, read_lock, toolchain_lock_path
from pipeline.engine.fetch import sha256_of
from pipeline.engine.interpreters import discover
from tests.bench import Figure

PACKAGES = ("six==1.17.0", "idna==3.10", "markupsafe==3.0.2")  # pure (setuptools), pure (flit), C


def _original(python: Path, requirement: str, workdir: Path) -> tuple[float, bool]:
    """Two plain builds, the original tracker's way; (seconds for both, identical?)."""
    digests = []
    started = time.monotonic()
    for number in (1, 2):
        dest = workdir / f"orig-{requirement}-{number}"
        subprocess.run([str(python), "-m", "pip", "wheel", "--quiet", "--no-binary", ":all:", "--no-cache-dir",
                        "--no-deps", "--wheel-dir", str(dest), requirement], check=True, capture_output=True,
                       env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
        digests.append(sha256_of(next(dest.glob("*.whl"))))
    return time.monotonic() - started, digests[0] == digests[1]


def run(workdir: Path) -> Iterator[Figure]:
    interpreter = next(i for i in discover(("3.12", "3.11")).found)
    venv = workdir / "orig-venv"
    if not venv.exists():
        create_venv(interpreter, venv)
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as lock:
            lock.write("\n".join(read_lock(toolchain_lock_path(interpreter))) + "\n")
            lock.flush()
            subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--require-hashes",
                            "--no-deps", "-r", lock.name], check=True)
    for requirement in PACKAGES:
        name = requirement.split("==")[0]
        original, original_same = _original(venv / "bin" / "python", requirement, workdir)
        yield Figure("check", f"{name}: original method, two builds", original, "s")
        yield Figure("check", f"{name}: original method gives identical wheels", float(original_same), "bool")
        out = Path(tempfile.mkdtemp(prefix="cold-", dir=workdir))
        out.chmod(0o755)
        checker = Checker(CheckOptions(out=out))
        target = checker.target(requirement)
        started = time.monotonic()
        cold = checker.check(target, interpreter)
        cold_seconds = time.monotonic() - started
        started = time.monotonic()
        warm = checker.check(target, interpreter)
        warm_seconds = time.monotonic() - started
        yield Figure("check", f"{name}: this checker, cold (env made) -> {cold.status}", cold_seconds, "s")
        yield Figure("check", f"{name}: this checker, warm (env reused) -> {warm.status}", warm_seconds, "s")
        pure = name != "markupsafe"
        yield Figure("check", f"{name}: ratio warm check / original", warm_seconds / original, "x",
                     "<= 1.0" if pure else "", (warm_seconds <= original) if pure else None)
        yield Figure("check", f"{name}: ratio cold check / original", cold_seconds / original, "x")
