"""Where things are inside the sandbox: the same paths on every machine, whatever --out or the host's layout.

A build sees its interpreter at ``/opt/python/<tag>``, its venv at ``/opt/venv``, its source at
``/tmp/wheelrepro/<tag>/<name>-<version>``, HOME at ``/tmp/home`` and the tracker's own helpers at
``/opt/wheelrepro``; nothing under ``--out``, the checkout or root's home.  Paths that end up in
binaries (DWARF, RUNPATH, generated C) are therefore the same wherever the check runs.

The interpreter is bound at its constant prefix, and the files that name its host prefix (the
sysconfig data, pkg-config files) are replaced by copies naming the constant one, so compiler and
linker flags taken from sysconfig (pyenv puts ``-Wl,-rpath,<prefix>/lib`` in LDSHARED) name it too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ..errors import EnvironmentFailed
from . import programs
from .fetch import sha256_of
from .interpreters import Interpreter
from .net import atomic_write

#: bump when any in-sandbox path below changes: it is part of every environment's fingerprint
LAYOUT_VERSION = "2"
#: what a build run without the sandbox (--unsandboxed) sees: host paths, so its own fingerprint
HOST_LAYOUT = "host"

PYTHON_ROOT = "/opt/python"
VENV = "/opt/venv"
TOOLS = "/opt/wheelrepro"  # the tracker's helper script, uv, the CA bundle, lock files, all read-only
SDISTS = "/opt/sdist"
CARGO_HOME = "/opt/cargo"
RUST = "/opt/rust"
HOME = "/tmp/home"
TMP = "/tmp"
DIST = "/tmp/dist"  # the wheel's output folder, inside the private /tmp
BUILD_ROOT = Path("/tmp/wheelrepro")
HELPER = f"{TOOLS}/inside.py"
HELPER_SOURCE = Path(__file__).with_name("inside.py")


def python_prefix(tag: str) -> str:
    return f"{PYTHON_ROOT}/{tag}"


def build_dir(name: str, version: str, tag: str, root: Path = BUILD_ROOT) -> Path:
    """The build tree's path inside the sandbox (the `build_path` variation moves ``root``)."""
    return root / tag / f"{name}-{version}"


_PROBE = """
import hashlib, importlib.util, json, os, sys, sysconfig
name = sysconfig._get_sysconfigdata_name()
spec = importlib.util.find_spec(name)
libdir = sysconfig.get_config_var("LIBDIR") or ""
soname = sysconfig.get_config_var("INSTSONAME") or ""
lib = os.path.join(libdir, soname) if sysconfig.get_config_var("Py_ENABLE_SHARED") and soname else ""
keys = ("CC", "CXX", "CFLAGS", "LDSHARED", "CCSHARED", "LDFLAGS", "SOABI", "MULTIARCH", "HOST_GNU_TYPE")
print(json.dumps({
    "prefix": os.path.realpath(sys.base_prefix),
    "executable": os.path.realpath(sys.executable),
    "sysconfigdata": spec.origin if spec else "",
    "libpython": os.path.realpath(lib) if lib and os.path.exists(lib) else "",
    "shared": bool(sysconfig.get_config_var("Py_ENABLE_SHARED")),
    "vars": {k: str(sysconfig.get_config_var(k) or "") for k in keys},
    "build": sys.version,
    "cache_tag": sys.implementation.cache_tag or "",
}))
"""


@dataclass(frozen=True)
class Overlay:
    """A host file shown read-only at ``inside`` (inside the bound interpreter prefix)."""

    host: str
    inside: str


@dataclass(frozen=True)
class PythonView:
    """One interpreter as builds see it: bound at a constant prefix, with its files that name the
    host prefix replaced; ``identity`` is what of it can change a wheel's bytes (the fingerprint)."""

    tag: str
    minor: str
    host_prefix: str
    prefix: str  # inside the sandbox
    executable: str  # inside the sandbox
    host_executable: str
    overlays: tuple[Overlay, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    identity: Mapping[str, str] = field(default_factory=dict)


def _rewrite(text: str, host_prefix: str, prefix: str) -> str:
    return text.replace(host_prefix, prefix)


@functools.lru_cache(maxsize=32)
def _probe(executable: str) -> dict:
    try:
        out = programs.run([executable, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60,
                             check=True).stdout
        return json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise EnvironmentFailed(f"inspecting the interpreter {executable}", str(exc)) from None


def identity(interpreter: Interpreter) -> dict[str, str]:
    """What of the interpreter can change a wheel: its version and build, digests of its binary and
    libpython, and the compiler flags sysconfig gives builds (host prefix written as the constant one)."""
    return dict(_identity(interpreter.path, interpreter.tag, interpreter.version))


@functools.lru_cache(maxsize=32)
def _identity(path: str, tag: str, version: str) -> tuple[tuple[str, str], ...]:
    info = _probe(path)
    prefix = python_prefix(tag)
    found = {
        "python": version,
        "python_build": info["build"].replace("\n", " "),
        "python_executable_sha256": sha256_of(Path(info["executable"])),
        "libpython_sha256": sha256_of(Path(info["libpython"])) if info["libpython"] else "static",
        **{f"sysconfig_{key}": _rewrite(value, info["prefix"], prefix) for key, value in sorted(info["vars"].items())},
    }
    if info["sysconfigdata"]:
        text = Path(info["sysconfigdata"]).read_bytes().decode("utf-8", "surrogateescape")
        found["sysconfigdata_sha256"] = hashlib.sha256(
            _rewrite(text, info["prefix"], prefix).encode("utf-8", "surrogateescape")).hexdigest()
    return tuple(sorted(found.items()))


def python_view(interpreter: Interpreter, cache: Path) -> PythonView:
    """The interpreter at its constant prefix; rewritten sysconfig and pkg-config files go to ``cache``."""
    info = _probe(interpreter.path)
    host_prefix = info["prefix"]
    prefix = python_prefix(interpreter.tag)
    executable = info["executable"]
    relative = os.path.relpath(executable, host_prefix)
    if relative.startswith(".."):
        raise EnvironmentFailed(f"interpreter {interpreter.path}", f"its executable is outside its prefix {host_prefix}")
    found = identity(interpreter)
    key = hashlib.sha256(json.dumps([LAYOUT_VERSION, host_prefix, found], sort_keys=True).encode()).hexdigest()
    folder = cache / f"{interpreter.tag}-{key[:16]}"
    overlays = []
    sources = [info["sysconfigdata"]] if info["sysconfigdata"] else []
    pkgconfig = Path(host_prefix) / "lib" / "pkgconfig"
    if pkgconfig.is_dir():
        sources += [str(p) for p in sorted(pkgconfig.glob("*.pc")) if p.is_file()]
    for source in sources:
        relative_source = os.path.relpath(os.path.realpath(source), host_prefix)
        if relative_source.startswith(".."):
            continue
        copy = folder / relative_source.replace("/", "__")
        if not copy.is_file():
            text = Path(source).read_bytes().decode("utf-8", "surrogateescape")
            atomic_write(copy, _rewrite(text, host_prefix, prefix).encode("utf-8", "surrogateescape"))
            copy.chmod(0o644)
        overlays.append(Overlay(str(copy), f"{prefix}/{relative_source}"))
        if source == info["sysconfigdata"] and info.get("cache_tag"):
            overlays += _compiled(interpreter.path, copy, f"{prefix}/{relative_source}", info["cache_tag"],
                                  host_prefix, prefix)
    # pyenv's --enable-shared builds find libpython through a RUNPATH naming the host prefix
    env = {"LD_LIBRARY_PATH": f"{prefix}/lib"} if info["shared"] else {}
    return PythonView(tag=interpreter.tag, minor=interpreter.minor, host_prefix=host_prefix, prefix=prefix,
                      executable=f"{prefix}/{relative}", host_executable=executable, overlays=tuple(overlays),
                      env=env, identity=found)



_COMPILE = "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile=sys.argv[3], doraise=True)"


def _compiled(executable: str, copy: Path, inside: str, cache_tag: str, host_prefix: str, prefix: str
              ) -> list[Overlay]:
    """The rewritten module's bytecode, shown over the interpreter's own: without it every Python
    process a build starts would compile the sysconfig data again (it cannot write a cache there)."""
    folder, name = os.path.split(inside)
    cache = f"{folder}/__pycache__/{name[:-3]}.{cache_tag}.pyc"
    if not os.path.isfile(host_prefix + cache[len(prefix):]):
        return []  # no cache file to show it over (the folder is read-only in the sandbox)
    compiled = copy.with_name(copy.name + "c")
    if not compiled.is_file():
        try:
            programs.run([executable, "-I", "-c", _COMPILE, str(copy), str(compiled), inside], capture_output=True,
                           timeout=60, check=True)
        except (OSError, subprocess.SubprocessError):
            return []
        compiled.chmod(0o644)
    return [Overlay(str(compiled), cache)]
