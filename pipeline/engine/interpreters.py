"""Find the supported CPython interpreters on this machine (PATH, pyenv, uv)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Iterable

from ..errors import UsageError

SUPPORTED: tuple[str, ...] = ("3.9", "3.10", "3.11", "3.12", "3.13")

_PROBE = (
    "import json, platform, sys, sysconfig; "
    "print(json.dumps({'version': platform.python_version(), 'impl': sys.implementation.name, "
    "'prefix': sys.base_prefix, 'soabi': sysconfig.get_config_var('SOABI') or ''}))"
)


@dataclass(frozen=True)
class Interpreter:
    """A usable interpreter: ``version`` is X.Y.Z, ``tag`` e.g. cp312."""

    version: str
    tag: str
    path: str
    prefix: str

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


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
            f"`pyenv install {first}` or `uv python install {first}`; going on without"
        )


def _candidates(minor: str, env: dict[str, str]) -> Iterable[str]:
    exe = f"python{minor}"
    on_path = shutil.which(exe, path=env.get("PATH", ""))
    if on_path:
        yield on_path
    pyenv_root = env.get("PYENV_ROOT") or os.path.join(env.get("HOME", "/root"), ".pyenv")
    for found in sorted(glob.glob(os.path.join(pyenv_root, "versions", f"{minor}.*", "bin", exe)), reverse=True):
        yield found
    uv_dir = env.get("UV_PYTHON_INSTALL_DIR") or os.path.join(
        env.get("XDG_DATA_HOME") or os.path.join(env.get("HOME", "/root"), ".local", "share"), "uv", "python"
    )
    for found in sorted(glob.glob(os.path.join(uv_dir, f"cpython-{minor}.*", "bin", exe)), reverse=True):
        yield found


def probe(path: str) -> Interpreter | None:
    """Ask an interpreter what it is; None when it does not run or is not CPython."""
    try:
        out = subprocess.run(
            [path, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        info = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if info["impl"] != "cpython":
        return None
    major, minor = info["version"].split(".")[:2]
    return Interpreter(version=info["version"], tag=f"cp{major}{minor}", path=path, prefix=info["prefix"])


def discover(
    wanted: Iterable[str] = SUPPORTED,
    env: dict[str, str] | None = None,
    prober: Callable[[str], Interpreter | None] = probe,
) -> Discovery:
    """Find one interpreter per wanted X.Y; the rest are reported as missing."""
    env = dict(os.environ) if env is None else env
    found: list[Interpreter] = []
    missing: list[str] = []
    for minor in wanted:
        for candidate in _candidates(minor, env):
            interpreter = prober(candidate)
            if interpreter is not None and interpreter.minor == minor:
                found.append(interpreter)
                break
        else:
            missing.append(minor)
    return Discovery(found=tuple(found), missing=tuple(missing))


def parse_wanted(values: Iterable[str] | None) -> tuple[str, ...]:
    """``--python 3.12 --python 3.13`` or ``3.12,3.13``; ``all``/empty means every supported."""
    chosen: list[str] = []
    for value in values or ():
        for part in value.replace(" ", ",").split(","):
            part = part.strip().removeprefix("cp")
            if not part or part == "all":
                continue
            if "." not in part and len(part) >= 2:
                part = f"{part[0]}.{part[1:]}"
            if part not in SUPPORTED:
                raise UsageError(f"unsupported Python {part!r}; supported: {', '.join(SUPPORTED)}")
            if part not in chosen:
                chosen.append(part)
    return tuple(chosen) or SUPPORTED
