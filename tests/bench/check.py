"""This checker against the original tracker's method (two plain `pip wheel` builds), same packages.

The original built with ``pip wheel --no-binary :all: --no-cache-dir`` twice, one after the
other, in default temp dirs.  Both are timed in this process, on the same interpreter, so the
ratio is fair.  Warm: the pinned environment already made (the nightly's usual case); cold: a new
``--out``, so the check also resolves the build requirements and makes the venv (uv).  Each
figure is the best of three runs, interleaved with the baseline's, on this shared machine.  The
ratios time the double build, as the original did; the comparison with the index's wheel is timed
once beside them.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.environments import read_lock, toolchain_lock_path
from pipeline.engine.fetch import sha256_of
from pipeline.engine.interpreters import Interpreter, discover
from tests.bench import Figure

WARM = ("markupsafe==3.0.2",)
COLD = ("six==1.17.0", "markupsafe==3.0.2")  # pure (setuptools), C
WARM_TARGET, COLD_TARGET = 0.3, 0.5
ROUNDS = 3


def _original_venv(interpreter: Interpreter, venv: Path) -> Path:
    """A plain venv with the pinned pip and build (the original method's frontend), made once."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([interpreter.path, "-m", "venv", str(venv)], check=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as lock:
            lock.write("\n".join(read_lock(toolchain_lock_path(interpreter))) + "\n")
            lock.flush()
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps",
                            "-r", lock.name], check=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    return python


def _original(python: Path, requirement: str, workdir: Path) -> tuple[float, bool]:
    """Two plain builds in a row, the original tracker's way; (seconds for both, identical?)."""
    digests = []
    started = time.monotonic()
    for number in (1, 2):
        dest = Path(tempfile.mkdtemp(prefix=f"orig-{number}-", dir=workdir))
        subprocess.run([str(python), "-m", "pip", "wheel", "--quiet", "--no-binary", ":all:", "--no-cache-dir",
                        "--no-deps", "--wheel-dir", str(dest), requirement], check=True, capture_output=True,
                       env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
        digests.append(sha256_of(next(dest.glob("*.whl"))))
    return time.monotonic() - started, digests[0] == digests[1]


def _timed_check(out: Path, requirement: str, interpreter: Interpreter, upstream: bool = False):
    """One check's seconds (without the download) and its result.  The comparison with the index's wheel
    (its own matching rebuild, in a toolchain of its own) is not what the original method did: off unless
    ``upstream``, and then reported beside the ratios, without a target."""
    checker = Checker(CheckOptions(out=out, upstream=upstream))
    target = checker.target(requirement)  # the download is not the check's work in either method
    started = time.monotonic()
    result = checker.check(target, interpreter)
    return time.monotonic() - started, result


def run(workdir: Path) -> Iterator[Figure]:
    interpreter = next(i for i in discover(("3.12", "3.11")).found)
    python = _original_venv(interpreter, workdir / "orig-venv")
    warm_out = workdir / "warm-out"
    for requirement in WARM:
        name = requirement.split("==")[0]
        _timed_check(warm_out, requirement, interpreter)  # makes the environment once
        original, same = min(_original(python, requirement, workdir) for _ in range(ROUNDS))
        seconds, result = min((_timed_check(warm_out, requirement, interpreter) for _ in range(ROUNDS)),
                              key=lambda timed: timed[0])
        yield Figure("check", f"{name}: original method, two builds in a row (identical: {same})", original, "s")
        yield Figure("check", f"{name}: warm check -> {result.status} ({result.controls.get('pair', result.message)})",
                     seconds, "s")
        ratio = seconds / original
        yield Figure("check", f"{name}: ratio warm check / original", ratio, "x", f"<= {WARM_TARGET}",
                     ratio <= WARM_TARGET and result.status == "reproducible")
    for requirement in COLD:  # the best of ROUNDS runs of each, interleaved: the least disturbed by the machine
        name = requirement.split("==")[0]
        runs = []
        for _ in range(ROUNDS):
            runs.append((_original(python, requirement, workdir),
                         _timed_check(Path(tempfile.mkdtemp(prefix="cold-", dir=workdir)), requirement, interpreter)))
        original, same = min(run[0] for run in runs)
        seconds, result = min((run[1] for run in runs), key=lambda timed: timed[0])
        yield Figure("check", f"{name}: original method, two builds in a row (identical: {same})", original, "s")
        yield Figure("check", f"{name}: cold check (resolve + venv + two builds) -> {result.status} {result.message}",
                     seconds, "s")
        ratio = seconds / original
        yield Figure("check", f"{name}: ratio cold check / original", ratio, "x", f"<= {COLD_TARGET}",
                     ratio <= COLD_TARGET and result.status == "reproducible")
        seconds, result = _timed_check(Path(tempfile.mkdtemp(prefix="cold-", dir=workdir)), requirement, interpreter,
                                       upstream=True)
        pypi = result.upstream.status if result.upstream else "-"
        yield Figure("check", f"{name}: cold check with the index's wheel compared too (pypi: {pypi}), once",
                     seconds, "s")
