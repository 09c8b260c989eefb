"""Pinned build environments: interpreter + toolchain lock + the package's own build lock.

``environments/cpXY.txt`` pins the frontend toolchain (pip, build and their dependencies) with
hashes, one file per supported interpreter.  A package's build requirements are resolved once
per (sdist, interpreter) into an exact lock; the venv that holds both is made once per
fingerprint at a fixed path, and every build of that fingerprint uses it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import urllib.parse
import urllib.request
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ..errors import EnvironmentFailed
from .interpreters import Interpreter
from .net import atomic_write
from ..records import Environment

#: the toolchain locks: pipeline/environments, in a checkout a link to the repository's environments/
#: (the copy to edit), in an installed tool the copy the package ships; the one place that decides
ENVIRONMENTS_DIR = Path(__file__).resolve().parents[1] / "environments"
TOOLCHAIN = ("build", "pip")


def toolchain_lock_path(interpreter: Interpreter, directory: Path = ENVIRONMENTS_DIR) -> Path:
    return directory / f"{interpreter.tag}.txt"


def read_lock(path: Path) -> tuple[str, ...]:
    """Lock lines (``name==version --hash=sha256:...``), comments dropped."""
    if not path.is_file():
        raise EnvironmentFailed(
            f"no toolchain lock {path.name}", "run `nox -s lock` to write it (needs the network once)"
        )
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return tuple(sorted(line for line in lines if line))


def fingerprint(*parts: Iterable[str] | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        for line in [part] if isinstance(part, str) else part:
            digest.update(line.encode() + b"\n")
        digest.update(b"\x00")
    return digest.hexdigest()


def identity(interpreter: Interpreter) -> str:
    """The interpreter as fingerprints see it (a free-threaded build is another interpreter)."""
    return f"cpython {interpreter.version}" + (" free-threaded" if interpreter.free_threaded else "")


def base_fingerprint(interpreter: Interpreter, toolchain: tuple[str, ...]) -> str:
    return fingerprint(identity(interpreter), toolchain)


def lock_from_report(report: dict) -> tuple[str, ...]:
    """pip's ``--report`` JSON -> exact, hashed lock lines."""
    lines = []
    for item in report.get("install", []):
        meta = item["metadata"]
        info = item.get("download_info", {})
        hashes = info.get("archive_info", {}).get("hashes", {})
        sha = hashes.get("sha256") or info.get("archive_info", {}).get("hash", "").partition("sha256=")[2]
        if not sha:
            raise EnvironmentFailed(f"{meta['name']} {meta['version']}", "the index gave no sha256 to lock it with")
        name = meta["name"].lower().replace("_", "-").replace(".", "-")
        lines.append(f"{name}=={meta['version']} --hash=sha256:{sha}")
    return tuple(sorted(lines))


@dataclass(frozen=True)
class PipSource:
    """Where pip finds distributions: an index, and/or a local folder of wheels."""

    index_url: str | None = "https://pypi.org/simple/"
    find_links: tuple[str, ...] = ()

    def local_paths(self) -> tuple[str, ...]:
        """Folders on this machine pip reads from (the sandbox must show them)."""
        paths = []
        for location in (self.index_url or "", *self.find_links):
            if location.startswith("file:"):
                location = urllib.request.url2pathname(urllib.parse.urlparse(location).path)
            if location.startswith("/") and os.path.exists(location):
                paths.append(os.path.realpath(location))
        return tuple(paths)

    def args(self) -> list[str]:
        out = ["--index-url", self.index_url] if self.index_url else ["--no-index"]
        for link in self.find_links:
            out += ["--find-links", link]
        return out


def write_toolchain_lock(interpreter: Interpreter, source: PipSource, directory: Path = ENVIRONMENTS_DIR) -> Path:
    """Resolve the toolchain for one interpreter and write ``environments/cpXY.txt``."""
    with tempfile.TemporaryDirectory(prefix="wheelrepro-lock-") as tmp:
        venv = Path(tmp) / "venv"
        create_venv(interpreter, venv)
        report = Path(tmp) / "report.json"
        cmd = [str(venv / "bin" / "python"), "-m", "pip", "install", "--dry-run", "--ignore-installed",
               "--quiet", "--only-binary", ":all:", "--report", str(report), *source.args(), *TOOLCHAIN]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise EnvironmentFailed(f"locking the toolchain for {interpreter.tag}", _last_line(proc.stderr))
        lines = lock_from_report(json.loads(report.read_text()))
    path = toolchain_lock_path(interpreter, directory)
    header = f"# Build frontend toolchain for CPython {interpreter.selector} ({interpreter.tag}); written by `nox -s lock`.\n"
    atomic_write(path, (header + "\n".join(lines) + "\n").encode())
    return path


def write_toolchain_lock_for(selector: str, source: PipSource, directory: Path = ENVIRONMENTS_DIR) -> Path:
    """The lock for an interpreter this machine does not have (``3.14``, ``3.14t``), resolved by this
    Python's pip for that version's tags: the toolchain is pure wheels, so CI can build with an
    interpreter this machine lacks.  pip evaluates environment markers against the running Python,
    which is right for the toolchain's markers (``python_version < "3.11"``) when run on 3.11 or later."""
    minor = selector.removesuffix("t")
    with tempfile.TemporaryDirectory(prefix="wheelrepro-lock-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--only-binary", ":all:", "--python-version", minor, "--implementation", "cp",
               "--report", str(report), *source.args(), *TOOLCHAIN]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise EnvironmentFailed(f"locking the toolchain for Python {selector}", _last_line(proc.stderr))
        lines = lock_from_report(json.loads(report.read_text()))
    path = directory_lock(selector, directory)
    tag = f"cp{selector.replace('.', '')}"
    header = (f"# Build frontend toolchain for CPython {selector} ({tag}); written by `nox -s lock` "
              "without that interpreter (resolved for its tags).\n")
    atomic_write(path, (header + "\n".join(lines) + "\n").encode())
    return path


def locked_selectors(directory: Path = ENVIRONMENTS_DIR) -> tuple[str, ...]:
    """The interpreters (3.12, 3.14t) that have a toolchain lock, oldest first."""
    from .interpreters import known

    return tuple(s for s in known() if directory_lock(s, directory).is_file())


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def create_venv(interpreter: Interpreter, path: Path) -> None:
    """A bare venv made by virtualenv, with its seed pip (replaced by the locked one)."""
    cmd = [sys.executable, "-m", "virtualenv", "--quiet", "--no-download", "--no-periodic-update",
           "--python", interpreter.path, str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EnvironmentFailed(f"creating a venv for {interpreter.tag}", _last_line(proc.stderr or proc.stdout))


class EnvLock:
    """An exclusive lock on one environment folder while it is made."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")

    def __enter__(self) -> EnvLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "w")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def env_path(envs_dir: Path, interpreter: Interpreter, fp: str) -> Path:
    return envs_dir / f"{interpreter.tag}-{fp[:16]}"


def describe(interpreter: Interpreter, toolchain: tuple[str, ...], requirements: tuple[str, ...], envs_dir: Path) -> Environment:
    fp = fingerprint(identity(interpreter), toolchain, requirements)
    return Environment(
        fingerprint=fp,
        base=base_fingerprint(interpreter, toolchain),
        python=interpreter.version,
        interpreter=interpreter.tag,
        toolchain=toolchain,
        requirements=requirements,
        path=str(env_path(envs_dir, interpreter, fp)),
    )


def is_complete(env: Environment) -> bool:
    marker = Path(env.path) / ".complete"
    return marker.is_file() and marker.read_text() == env.fingerprint


def mark_complete(env: Environment) -> None:
    atomic_write(Path(env.path) / ".complete", env.fingerprint.encode())


def remove(env: Environment) -> None:
    shutil.rmtree(env.path, ignore_errors=True)


def fill_wheelhouse(dest: Path, source: PipSource, minors: Iterable[str], extra: Path | None = None) -> list[str]:
    """Download every toolchain lock's wheels (and ``extra`` requirements) into ``dest``.

    With it, builds can be provisioned with no index at all (offline tests, air-gapped mirrors).
    """
    dest.mkdir(parents=True, exist_ok=True)
    done = []
    extras = requirement_groups(read_lock(extra)) if extra else []
    for minor in minors:
        lock = directory_lock(minor)
        jobs = [["-r", str(lock)]] + [list(group) for group in extras]
        for requirement_args in jobs:
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                   "--python-version", minor.removesuffix("t"), "--dest", str(dest), *source.args(), *requirement_args]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise EnvironmentFailed(f"filling the wheelhouse for Python {minor}", _last_line(proc.stderr))
        done.append(minor)
    return done


def requirement_groups(lines: Iterable[str]) -> list[tuple[str, ...]]:
    """Requirements split so no group names a project twice: pip downloads each group in one call,
    and one call cannot hold two versions of a project (the tests want an old and a new backend)."""
    groups: list[list[str]] = []
    for line in lines:
        name = canonicalize_name(Requirement(line).name)
        target = next((g for g in groups if name not in {canonicalize_name(Requirement(r).name) for r in g}), None)
        if target is None:
            target = []
            groups.append(target)
        target.append(line)
    return [tuple(group) for group in groups]


def directory_lock(minor: str, directory: Path = ENVIRONMENTS_DIR) -> Path:
    return directory / f"cp{minor.replace('.', '')}.txt"
