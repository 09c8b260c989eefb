"""What besides the locks can change a wheel's bytes: the interpreter's build, the C and Rust compilers, the layout.

Each is written into the Environment record (``inputs``) and its fingerprint, so two results with
the same fingerprint were built by the same interpreter binary, compilers and in-sandbox paths.
The probes run the host's own trusted binaries, never anything from a package.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import Mapping

from . import layout, programs
from .interpreters import Interpreter
from .sandbox import host_tools

#: the compilers a build may call, and the command that names each one's version
COMPILERS = (("cc", ("cc", "--version")), ("c++", ("c++", "--version")), ("rustc", ("rustc", "--version")),
             ("cargo", ("cargo", "--version")))


def _version(argv: tuple[str, ...]) -> str:
    tools = host_tools()
    host = {mount.inside: mount.path for mount in tools.mounts}
    path = ":".join([*(host.get(d, d) for d in tools.path_dirs), "/usr/local/bin", "/usr/bin", "/bin"])
    env = {"PATH": path, "HOME": "/nonexistent", "LC_ALL": "C"}
    env.update({key: host.get(value, value) for key, value in tools.env.items()})  # rustup, at its host path
    if not shutil.which(argv[0], path=path):
        return "absent"
    try:
        out = programs.run(argv, capture_output=True, text=True, timeout=60, cwd="/", env=env)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({type(exc).__name__})"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0][:200] if out.returncode == 0 and lines else "unknown"


@functools.lru_cache(maxsize=1)
def compilers() -> dict[str, str]:
    """The first line each compiler prints for --version ("absent" when it is not installed)."""
    return {name: _version(argv) for name, argv in COMPILERS}


def inputs(interpreter: Interpreter, layout_version: str | None = None) -> dict[str, str]:
    """Interpreter build + compilers (+ the sandbox's path layout when given), as name -> value."""
    found = layout.identity(interpreter)
    found.update(compilers())
    if layout_version is not None:
        found["layout"] = layout_version
    return found


def lines(values: Mapping[str, str]) -> list[str]:
    """The inputs as sorted ``name=value`` lines, the form the fingerprint hashes."""
    return [f"{key}={value}" for key, value in sorted(values.items())]
