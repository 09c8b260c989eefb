"""``check --wheelhouse DIR``: the reproducible wheels, ready to serve from a mirror and to rebuild.

DIR gets each reproducible wheel, ``SHA256SUMS`` (``sha256sum -c`` reads it), and next to each
wheel a ``WHEEL.buildenv/`` folder with, per interpreter that built it, the exact environment:
``toolchain.txt`` and ``build.txt`` (hashed locks, ``pip install --require-hashes -r``) and
``result.json`` (the record: the sdist's digest, the controls, the command that repeats it).
A file already in DIR is never replaced by different bytes under the same name.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..engine.fetch import sha256_of
from ..engine.net import atomic_write
from ..records import Result
from .text import printable

SUMS = "SHA256SUMS"
ENV_SUFFIX = ".buildenv"


@dataclass(frozen=True)
class Placed:
    wheel: str
    sha256: str
    interpreters: tuple[str, ...]
    reproducible: bool


@dataclass
class Outcome:
    """What went into the wheelhouse, and what was left out and why."""

    folder: Path
    placed: list[Placed] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (what, why)


def safe_wheel_name(name: str) -> bool:
    """A wheel file name that is safe to write and to list: valid, one path part, nothing unprintable."""
    if not name or "/" in name or name.startswith(".") or printable(name) != name or " " in name:
        return False
    try:
        parse_wheel_filename(name)
    except InvalidWheelFilename:
        return False
    return True


def _lock_text(kind: str, wheel: str, result: Result, lines: Sequence[str]) -> str:
    head = (f"# The {kind} lock {wheel} was built with on CPython {result.python} ({result.interpreter}).\n"
            f"# Install it with: pip install --no-deps --require-hashes -r {kind}.txt\n")
    return head + "".join(f"{line}\n" for line in lines)


def _publish(path: Path, text: str) -> None:
    """Written atomically and readable by whoever serves the folder."""
    atomic_write(path, text.encode())
    os.chmod(path, 0o644)


def _write_environment(folder: Path, wheel: str, result: Result) -> None:
    env = result.environment
    target = folder / f"{wheel}{ENV_SUFFIX}" / result.interpreter
    target.mkdir(parents=True, exist_ok=True)
    _publish(target / "toolchain.txt", _lock_text("toolchain", wheel, result, env.toolchain if env else ()))
    _publish(target / "build.txt", _lock_text("build", wheel, result, env.requirements if env else ()))
    _publish(target / "result.json", json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")


def _copy(source: Path, dest: Path, sha256: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".wheel-")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp, follow_symlinks=False)
        if sha256_of(Path(tmp)) != sha256:
            raise OSError(f"{source} changed since it was checked")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_sums(path: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            digest, _, name = line.partition("  ")
            if len(digest) == 64 and safe_wheel_name(name):
                sums[name] = digest
    return sums


def write_wheelhouse(folder: Path, results: Sequence[Result], include_unreproducible: bool = False) -> Outcome:
    """Put the checked wheels of ``results`` in ``folder`` (see the module's docstring)."""
    outcome = Outcome(folder)
    folder.mkdir(parents=True, exist_ok=True)
    candidates: dict[str, dict[str, list[Result]]] = {}  # wheel name -> sha256 -> the results that built it
    for result in results:
        build = result.builds[0] if result.builds else None
        if result.status not in ("reproducible", "unreproducible") or build is None or not build.path:
            continue
        what = f"{build.wheel} ({result.interpreter})"
        if result.status == "unreproducible" and not include_unreproducible:
            outcome.left_out.append((what, "unreproducible"))
        elif not safe_wheel_name(build.wheel or ""):
            outcome.left_out.append((what, "its file name is not a safe wheel name"))
        else:
            candidates.setdefault(build.wheel, {}).setdefault(build.sha256, []).append(result)
    chosen: dict[str, tuple[str, list[Result]]] = {}
    for wheel, by_sha in candidates.items():
        # one file per name on a mirror: the bytes most interpreters built (e.g. a pure wheel whose
        # build backend is pinned differently for an old Python); the others are named
        sha, built = max(by_sha.items(), key=lambda item: len(item[1]))
        chosen[wheel] = (sha, built)
        for other, results_ in by_sha.items():
            if other != sha:
                outcome.left_out += [(f"{wheel} ({r.interpreter})", f"other bytes than the {wheel} built on "
                                      f"{', '.join(b.interpreter for b in built)}") for r in results_]
    sums = _read_sums(folder / SUMS)
    for wheel, (sha, built) in chosen.items():
        dest = folder / wheel
        if dest.is_symlink() or (dest.exists() and (not dest.is_file() or sha256_of(dest) != sha)):
            outcome.left_out.append((wheel, f"{folder} already holds another {wheel}; not replaced"))
            continue
        if not dest.exists():
            _copy(Path(built[0].builds[0].path), dest, sha)
        for result in built:
            _write_environment(folder, wheel, result)
        sums[wheel] = sha
        outcome.placed.append(Placed(wheel, sha, tuple(r.interpreter for r in built),
                                     all(r.status == "reproducible" for r in built)))
    # a line stays only while its file is there with those bytes: the list is checked, not remembered
    placed = {p.wheel for p in outcome.placed}
    present = {name: digest for name, digest in sums.items()
               if name in placed or ((folder / name).is_file() and sha256_of(folder / name) == digest)}
    _publish(folder / SUMS, "".join(f"{digest}  {name}\n" for name, digest in sorted(present.items())))
    return outcome
