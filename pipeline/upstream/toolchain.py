"""Resolve build requirements as they stood at a moment: uv, wheels only, in the sandbox.

:func:`resolve_lock` is the one call: requirement strings in, exact hashed lock lines out, every
file uploaded before ``cutoff`` except the pinned backend (its pin is the point).  uv runs as the
build uid in the sandbox with the network on, ``--no-build`` (so no package code runs, and an
sdist-only requirement is an error rather than a silent build), no managed Pythons, the
machine's CA bundle, and a private cache that is deleted afterwards.  ``--find-links`` folders
are not passed: their files carry no upload time, so ``--exclude-newer`` could not cut them off.

The ``sandbox`` engineer's provision rewrite will offer the same function for the controlled
environment; this module is where the two meet.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import shutil
import stat
import subprocess
import tempfile
import tomllib
import urllib.parse
import urllib.request
from pathlib import Path

from packaging.utils import canonicalize_name

from ..engine import sandbox
from ..engine.interpreters import Interpreter
from ..engine.provision import ca_bundle
from ..errors import EnvironmentFailed, NotInferred

MAX_LOCK_BYTES = 4 << 20
#: what uv's log says when the index, not the requirements, is the problem
UV_NETWORK_TROUBLE = ("error sending request", "Failed to fetch", "dns error", "Connection refused",
                      "UnknownIssuer", "tcp connect error", "operation timed out", "Request failed after")


def uv_binary() -> Path:
    """The uv the tool pins (environments/tool.txt), or one on PATH."""
    try:
        import uv  # the PyPI package ships the binary

        return Path(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return Path(found)
    raise EnvironmentFailed("finding uv", "uv is not installed (it is pinned in environments/tool.txt)")


@functools.lru_cache(maxsize=4)
def uv_version(binary: Path) -> str:
    """``uv 0.13.9`` (what the record names as the resolver); uv runs no package code for this."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "uv"
    return " ".join(out.split()[:2]) or "uv"


def cutoff_stamp(moment: str) -> str:
    """An upload time as the RFC 3339 UTC stamp uv takes (``2025-03-05T19:51:37.123456Z``)."""
    parsed = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lock_lines(pylock: str) -> tuple[str, ...]:
    """A PEP 751 pylock.toml written with ``--no-build`` -> ``name==version --hash=sha256:...`` lines."""
    try:
        packages = tomllib.loads(pylock).get("packages", [])
    except tomllib.TOMLDecodeError as error:
        raise EnvironmentFailed("reading uv's lock", f"not TOML ({error})") from None
    lines = []
    for package in packages:
        hashes = [w.get("hashes", {}).get("sha256") for w in package.get("wheels", [])]
        if not hashes or not all(isinstance(h, str) and re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes):
            raise EnvironmentFailed("reading uv's lock", f"{package.get('name')} has no wheel with a sha256")
        name = canonicalize_name(str(package["name"]))
        lines.append(f"{name}=={package['version']} " + " ".join(f"--hash=sha256:{h}" for h in sorted(hashes)))
    return tuple(sorted(lines))


def _read_output(path: Path) -> str:
    """The file uv wrote, read without following a link the sandboxed process could have planted."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise EnvironmentFailed("reading uv's lock", f"no lock written ({error.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_LOCK_BYTES:
            raise EnvironmentFailed("reading uv's lock", "not a regular file of a sane size")
        return handle.read().decode("utf-8", "replace")


def _why_unresolvable(text: str) -> str:
    """uv's ``cause:`` and ``hint:`` lines, joined into one."""
    lines = [line.strip() for line in text.splitlines()]
    found = [line for line in lines if line.startswith(("cause:", "hint:", "╰─▶", "error:"))
             and not line.startswith("error: No solution found")]
    reason = " ".join(found) or "uv found no solution"
    return re.sub(r"\s+", " ", reason)[:600]


def _local_paths(index_url: str) -> tuple[str, ...]:
    if index_url.startswith("file:"):
        path = urllib.request.url2pathname(urllib.parse.urlparse(index_url).path)
        return (os.path.realpath(path),) if os.path.exists(path) else ()
    return ()


def interpreter_binary(interpreter: Interpreter) -> str:
    """The interpreter inside its prefix (the sandbox shows the prefix; a pyenv shim lives elsewhere)."""
    inside = Path(interpreter.prefix) / "bin" / f"python{interpreter.minor}"
    return str(inside) if inside.is_file() else interpreter.path


def resolve_lock(requirements: tuple[str, ...], *, cutoff: str, pinned: tuple[str, ...], interpreter: Interpreter,
                 index_url: str, backend: sandbox.Backend, limits: sandbox.Limits, log: Path,
                 uid: int = sandbox.BUILD_UID) -> tuple[str, ...]:
    """Exact, hashed lock lines for ``requirements`` as the index stood at ``cutoff``.

    ``pinned`` names projects exempt from the cutoff (the backend pinned to the Generator's
    version).  NotInferred when no solution exists (a requirement gone from the index, a pin the
    sdist's requirements exclude, only an sdist); EnvironmentFailed when the index cannot be reached.
    """
    binary = uv_binary()
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    log.parent.mkdir(parents=True, exist_ok=True)
    start = log.stat().st_size if log.exists() else 0
    with tempfile.TemporaryDirectory(prefix="wheelrepro-uv-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        (work / "requirements.in").write_text("\n".join(requirements) + "\n")
        (work / "cache").mkdir()
        sandbox.own_for_build(work, uid)
        argv = [str(binary), "pip", "compile", "--quiet", "--no-header", "--no-build",
                "--python", interpreter_binary(interpreter), "--default-index", index_url,
                "--exclude-newer", cutoff_stamp(cutoff),
                *(arg for name in pinned for arg in ("--exclude-newer-package", f"{name}={now}")),
                "--cache-dir", str(work / "cache"), "-o", str(work / "pylock.toml"), str(work / "requirements.in")]
        home = "/tmp/home"
        certs = ca_bundle().get("PIP_CERT")
        env = sandbox.scrubbed_env({"HOME": home, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never",
                                    "LC_ALL": "C.UTF-8", **({"SSL_CERT_FILE": certs} if certs else {})}, [])
        mounts = (sandbox.Mount(interpreter.prefix), sandbox.Mount(str(binary)),
                  *(sandbox.Mount(p) for p in _local_paths(index_url)), sandbox.Mount(str(work), writable=True))
        spec = sandbox.Spec(argv=tuple(argv), env=env, cwd=str(work), mounts=mounts, network=True, dirs=(home,),
                            uid=uid)
        outcome = sandbox.run(backend, spec, limits, log)
        text = log.read_bytes()[start:].decode("utf-8", "replace")
        if outcome.timed_out:
            raise EnvironmentFailed("resolving the inferred toolchain", "uv timed out (see the log)", str(log))
        if outcome.returncode != 0:
            if "No solution found" in text:
                raise NotInferred(f"the inferred toolchain cannot be resolved: {_why_unresolvable(text)}")
            if any(sign in text for sign in UV_NETWORK_TROUBLE):
                raise EnvironmentFailed("resolving the inferred toolchain", "the index could not be reached "
                                        "(see the log)", str(log))
            raise EnvironmentFailed("resolving the inferred toolchain", f"uv exited with {outcome.returncode} "
                                    "(see the log)", str(log))
        return lock_lines(_read_output(work / "pylock.toml"))
