"""The CPython versions the tracker knows, the ones it checks by default, and where to find them.

One table (:data:`CPYTHONS`) holds every version with its first release and its end of life;
the default set is whatever it says is supported on the day of the run, so the tracker moves to a
new Python, and drops a dead one, without a code change.  Older versions stay checkable with
``--python``.  A free-threaded build (``cp314t``) is an interpreter of its own.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from ..errors import UsageError
from . import programs


@dataclass(frozen=True)
class CPython:
    """One CPython feature release: its first final release and the last day upstream supports it.

    ``free_threading`` is "" (no such build), "experimental" (3.13) or "supported" (PEP 779, 3.14 on).
    """

    minor: str
    released: dt.date
    end_of_life: dt.date
    free_threading: str = ""

    def supported_on(self, day: dt.date) -> bool:
        return self.released <= day <= self.end_of_life


#: CPython's release cycle, from the developer guide's release-cycle table (an end of life given
#: only as a month is that month's last day).  A row is data: add the next version when it ships.
CPYTHONS: tuple[CPython, ...] = (
    CPython("3.8", dt.date(2019, 10, 14), dt.date(2024, 10, 7)),
    CPython("3.9", dt.date(2020, 10, 5), dt.date(2025, 10, 31)),
    CPython("3.10", dt.date(2021, 10, 4), dt.date(2026, 10, 31)),
    CPython("3.11", dt.date(2022, 10, 24), dt.date(2027, 10, 31)),
    CPython("3.12", dt.date(2023, 10, 2), dt.date(2028, 10, 31)),
    CPython("3.13", dt.date(2024, 10, 7), dt.date(2029, 10, 31), "experimental"),
    CPython("3.14", dt.date(2025, 10, 7), dt.date(2030, 10, 31), "supported"),
    CPython("3.15", dt.date(2026, 10, 1), dt.date(2031, 10, 31), "supported"),
)
_BY_MINOR = {row.minor: row for row in CPYTHONS}


def known() -> tuple[str, ...]:
    """Every selector ``--python`` takes: each version, and ``X.Yt`` where a free-threaded build exists."""
    return tuple(row.minor for row in CPYTHONS) + tuple(f"{r.minor}t" for r in CPYTHONS if r.free_threading)


def supported(day: dt.date) -> tuple[str, ...]:
    """The versions upstream supports on ``day``, oldest first."""
    return tuple(row.minor for row in CPYTHONS if row.supported_on(day))


def ci_pythons(day: dt.date) -> tuple[str, ...]:
    """What the GitHub workflow builds with on ``day``: the supported versions, then the free-threaded
    builds that are supported (an experimental one costs a job per shard for little)."""
    rows = [row for row in CPYTHONS if row.supported_on(day)]
    return tuple(r.minor for r in rows) + tuple(f"{r.minor}t" for r in rows if r.free_threading == "supported")


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


@dataclass(frozen=True)
class Selection:
    """The interpreters asked for: ``required`` ones are named when missing; ``optional`` ones
    (the free-threaded builds of the default set) are used when found and otherwise left out quietly."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[str]:
        return iter(self.required + self.optional)


def default_selection(day: dt.date | None = None) -> Selection:
    day = day or today()
    rows = [row for row in CPYTHONS if row.supported_on(day)]
    return Selection(tuple(r.minor for r in rows), tuple(f"{r.minor}t" for r in rows if r.free_threading))


def parse_wanted(values: Iterable[str] | None, day: dt.date | None = None) -> Selection:
    """``--python 3.12 --python 3.14t`` or ``3.12,cp313``; ``all`` or nothing means the default set."""
    chosen: list[str] = []
    for value in values or ():
        for part in value.replace(" ", ",").split(","):
            part = part.strip().lower().removeprefix("cp")
            if not part or part == "all":
                continue
            if "." not in part and len(part) >= 2:
                part = f"{part[0]}.{part[1:]}"
            if part not in known():
                raise UsageError(f"unknown Python {part!r}; known: {', '.join(known())}")
            if part not in chosen:
                chosen.append(part)
    return Selection(tuple(chosen)) if chosen else default_selection(day)


_PROBE = (
    "import json, platform, sys, sysconfig; "
    "print(json.dumps({'version': platform.python_version(), 'impl': sys.implementation.name, "
    "'prefix': sys.base_prefix, 'soabi': sysconfig.get_config_var('SOABI') or '', "
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))"
)


@dataclass(frozen=True)
class Interpreter:
    """A usable interpreter: ``version`` is X.Y.Z, ``tag`` e.g. cp312 (cp314t when free-threaded)."""

    version: str
    tag: str
    path: str
    prefix: str
    free_threaded: bool = False

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def selector(self) -> str:
        """What ``--python`` takes to pick this interpreter again: 3.12, or 3.14t."""
        return self.minor + ("t" if self.free_threaded else "")


@dataclass(frozen=True)
class Discovery:
    found: tuple[Interpreter, ...]
    missing: tuple[str, ...]

    def missing_message(self) -> str:
        if not self.missing:
            return ""
        names = ", ".join(self.missing)
        first = self.missing[0]
        return (
            f"Python {names} not found on PATH, in pyenv or uv; install with e.g. "
            f"`uv python install {first}` or `pyenv install {first}`; going on without"
        )


def _candidates(selector: str, env: dict[str, str]) -> Iterable[str]:
    minor = selector.removesuffix("t")
    free_threaded = selector.endswith("t")
    exe = f"python{selector}"
    on_path = shutil.which(exe, path=env.get("PATH", ""))
    if on_path:
        yield on_path
    pyenv_root = env.get("PYENV_ROOT") or os.path.join(env.get("HOME", "/root"), ".pyenv")
    pattern = f"{minor}.*t" if free_threaded else f"{minor}.*"
    for found in sorted(glob.glob(os.path.join(pyenv_root, "versions", pattern, "bin", exe)), reverse=True):
        yield found
    uv_dir = env.get("UV_PYTHON_INSTALL_DIR") or os.path.join(
        env.get("XDG_DATA_HOME") or os.path.join(env.get("HOME", "/root"), ".local", "share"), "uv", "python"
    )
    pattern = f"cpython-{minor}.*+freethreaded*" if free_threaded else f"cpython-{minor}.*"
    for found in sorted(glob.glob(os.path.join(uv_dir, pattern, "bin", exe)), reverse=True):
        yield found


def probe(path: str) -> Interpreter | None:
    """Ask an interpreter what it is; None when it does not run or is not CPython."""
    try:
        out = programs.run(
            [path, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        info = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if info["impl"] != "cpython":
        return None
    major, minor = info["version"].split(".")[:2]
    free_threaded = bool(info.get("free_threaded"))
    tag = f"cp{major}{minor}{'t' if free_threaded else ''}"
    return Interpreter(version=info["version"], tag=tag, path=path, prefix=info["prefix"], free_threaded=free_threaded)


def discover(
    wanted: Selection | Iterable[str] | None = None,
    env: dict[str, str] | None = None,
    prober: Callable[[str], Interpreter | None] = probe,
) -> Discovery:
    """One interpreter per wanted selector (3.12, 3.14t); the required ones not found are reported."""
    env = dict(os.environ) if env is None else env
    selection = wanted if isinstance(wanted, Selection) else (
        default_selection() if wanted is None else Selection(tuple(wanted)))
    found: list[Interpreter] = []
    missing: list[str] = []
    for selector in selection:
        for candidate in _candidates(selector, env):
            interpreter = prober(candidate)
            if interpreter is not None and interpreter.selector == selector:
                found.append(interpreter)
                break
        else:
            if selector in selection.required:
                missing.append(selector)
    return Discovery(found=tuple(found), missing=tuple(missing))
