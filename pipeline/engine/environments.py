"""Pinned build environments: interpreter + toolchain lock + the package's own build lock.

``environments/cpXY.txt`` pins the frontend toolchain (pip, build and their dependencies) with
hashes, one file per supported interpreter.  A package's build requirements are resolved once
per (sdist, interpreter) into an exact lock; the venv that holds both is made once per
fingerprint, inside the sandbox at its constant path, and every build of that fingerprint uses it.
A lock line names one wheel by its sha256: ``name==version --hash=sha256:<digest>``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import tomllib
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from packaging.tags import Tag, compatible_tags, cpython_tags, platform_tags
from packaging.requirements import Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from ..errors import EnvironmentFailed
from ..records import PYPI_SIMPLE, Environment
from . import programs, toolchains
from .interpreters import Interpreter
from .net import atomic_write

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


def base_fingerprint(interpreter: Interpreter, toolchain: tuple[str, ...],
                     inputs: Mapping[str, str] | None = None) -> str:
    """Interpreter build, compilers and toolchain lock: known before anything is resolved (the nightly
    skips what has a verdict for it).  The path layout is left out: it is in the full fingerprint."""
    found = dict(toolchains.inputs(interpreter) if inputs is None else inputs)
    found.pop("layout", None)
    return fingerprint(toolchains.lines(found), toolchain)


def interpreter_tags(interpreter: Interpreter) -> list[Tag]:
    """The wheel tags the interpreter installs, best first (this machine's platforms)."""
    major, minor = (int(part) for part in interpreter.minor.split("."))
    platforms = list(platform_tags())
    return [*cpython_tags((major, minor), platforms=platforms),
            *compatible_tags((major, minor), interpreter.tag, platforms=platforms)]


def lock_from_pylock(text: str, tags: Sequence[Tag]) -> tuple[str, ...]:
    """uv's ``pylock.toml`` (PEP 751) -> exact lock lines, one wheel each: the best for ``tags``."""
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EnvironmentFailed("reading the resolver's lock", str(exc)) from None
    rank = {tag: position for position, tag in enumerate(tags)}
    lines = []
    for package in data.get("packages", []):
        name, version = canonicalize_name(str(package.get("name", ""))), str(package.get("version", ""))
        best = None
        for wheel in package.get("wheels", []):
            filename = str(wheel.get("name") or wheel.get("url") or wheel.get("path") or "").rsplit("/", 1)[-1]
            sha = str(wheel.get("hashes", {}).get("sha256", ""))
            try:
                wheel_tags = parse_wheel_filename(urllib.parse.unquote(filename))[3]
            except InvalidWheelFilename:
                continue
            score = min((rank[tag] for tag in wheel_tags if tag in rank), default=None)
            if score is not None and len(sha) == 64 and (best is None or score < best[0]):
                best = (score, sha)
        if best is None:
            raise EnvironmentFailed(f"{name} {version}", "the resolver gave no wheel for this interpreter with a sha256")
        lines.append(f"{name}=={version} --hash=sha256:{best[1]}")
    return tuple(sorted(lines))


@dataclass(frozen=True)
class PipSource:
    """Where build requirements come from: an index, and/or local folders of wheels (pip's and uv's words)."""

    index_url: str | None = PYPI_SIMPLE
    find_links: tuple[str, ...] = ()

    def local_paths(self) -> tuple[str, ...]:
        """Folders on this machine the resolver reads from (the sandbox must show them)."""
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


def uv_binary() -> str:
    """The uv executable the tool's pinned dependencies installed (environments/uv.txt)."""
    try:
        import uv

        found = uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv") or ""
    if not found:
        raise EnvironmentFailed("finding uv", "it is not installed: pip install --require-hashes -r environments/uv.txt")
    return os.path.realpath(found)


def write_toolchain_lock(interpreter: Interpreter, source: PipSource, directory: Path = ENVIRONMENTS_DIR) -> Path:
    """Resolve the toolchain for one interpreter, wheels only, and write ``environments/cpXY.txt``.

    uv runs no package code with --no-build, so this step needs no sandbox.
    """
    cmd = [uv_binary(), "pip", "compile", "--quiet", "--no-build", "--no-config", "--no-python-downloads",
           "--python", interpreter.path, "--format", "pylock.toml", *source.args(), "-"]
    proc = programs.run(cmd, input="\n".join(TOOLCHAIN) + "\n", capture_output=True, text=True,
                          env={**os.environ, "UV_NO_CONFIG": "1"})
    if proc.returncode != 0:
        raise EnvironmentFailed(f"locking the toolchain for {interpreter.tag}", _last_line(proc.stderr))
    lines = lock_from_pylock(proc.stdout, interpreter_tags(interpreter))
    path = toolchain_lock_path(interpreter, directory)
    header = f"# Build frontend toolchain for CPython {interpreter.selector} ({interpreter.tag}); written by `nox -s lock`.\n"
    atomic_write(path, (header + "\n".join(lines) + "\n").encode())
    return path


def write_toolchain_lock_for(selector: str, source: PipSource, directory: Path = ENVIRONMENTS_DIR) -> Path:
    """The lock for an interpreter this machine does not have (``3.14``, ``3.14t``), resolved by uv for
    that version and this machine's platform: the toolchain is pure wheels, so CI can build with an
    interpreter this machine lacks."""
    minor = selector.removesuffix("t")
    tag = f"cp{selector.replace('.', '')}"
    cmd = [uv_binary(), "pip", "compile", "--quiet", "--no-build", "--no-config", "--no-python-downloads",
           "--python-version", minor, "--format", "pylock.toml", *source.args(), "-"]
    proc = programs.run(cmd, input="\n".join(TOOLCHAIN) + "\n", capture_output=True, text=True,
                          env={**os.environ, "UV_NO_CONFIG": "1"})
    if proc.returncode != 0:
        raise EnvironmentFailed(f"locking the toolchain for Python {selector}", _last_line(proc.stderr))
    major, minor_number = (int(part) for part in minor.split("."))
    platforms = list(platform_tags())
    tags = [*cpython_tags((major, minor_number), platforms=platforms),
            *compatible_tags((major, minor_number), tag, platforms=platforms)]
    lines = lock_from_pylock(proc.stdout, tags)
    path = directory_lock(selector, directory)
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


class EnvLock:
    """An exclusive lock on one folder (an environment, a crate cache, a check's kept results) while it is used."""

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


def describe(interpreter: Interpreter, toolchain: tuple[str, ...], requirements: tuple[str, ...], envs_dir: Path,
             inputs: Mapping[str, str]) -> Environment:
    """The environment record; ``inputs`` (interpreter build, compilers, layout) are in the fingerprint."""
    fp = fingerprint(toolchains.lines(inputs), toolchain, requirements)
    return Environment(
        fingerprint=fp,
        base=base_fingerprint(interpreter, toolchain, inputs),
        python=interpreter.version,
        interpreter=interpreter.tag,
        toolchain=toolchain,
        requirements=requirements,
        path=str(env_path(envs_dir, interpreter, fp)),
        inputs=dict(inputs),
    )


def _marker(env: Environment) -> Path:
    """Beside the venv, in a folder only root writes: no build ever sees it."""
    return Path(env.path + ".complete")


def is_complete(env: Environment) -> bool:
    marker = _marker(env)
    return marker.is_file() and not marker.is_symlink() and marker.read_text() == env.fingerprint


def mark_complete(env: Environment) -> None:
    atomic_write(_marker(env), env.fingerprint.encode())


def remove(env: Environment) -> None:
    _marker(env).unlink(missing_ok=True)
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
            proc = programs.run(cmd, capture_output=True, text=True)
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
