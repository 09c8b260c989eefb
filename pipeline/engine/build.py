"""Build a wheel once: a fresh unpack at the fixed in-sandbox path, controlled variables, sandboxed, offline.

The build tree lives on the sandbox's private /tmp (size-capped, charged to the build's cgroup,
gone when the build ends), so two builds of one release, at once or by two processes, never
share a folder.  The wheel comes back through a pipe: the tracker writes it into a folder only
root can write, after checking its name, size and that it is a zip.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Mapping

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from . import layout, sandbox
from ..records import Build, Environment
from .workspace import SOURCE_DATE_EPOCH

MAX_WHEEL_BYTES = 2 * 1024**3
HEADER_CAP = 4096

#: the controlled variables every build gets (the record keeps them)
CONTROLS: Mapping[str, str] = {
    "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
    "PYTHONHASHSEED": "0",
    "TZ": "UTC",
    "LC_ALL": "C.UTF-8",
    "LANG": "C.UTF-8",
    "umask": "022",
}
#: the controls that are environment variables (umask is applied to the process instead)
CONTROLLED_ENV: Mapping[str, str] = {k: v for k, v in CONTROLS.items() if k != "umask"}


@dataclass(frozen=True)
class BuildSettings:
    """One build's world.  A variation build changes some of these (see pipeline.vary).

    ``build_dir`` and ``home`` are paths inside the sandbox; ``mounts`` show host folders there.
    """

    build_dir: Path
    env_vars: Mapping[str, str] = field(default_factory=lambda: dict(CONTROLLED_ENV))
    umask: int = 0o022
    home: str = layout.HOME
    user: str = "builder"
    uid: int = sandbox.BUILD_UID
    hostname: str = "builder"
    cpus: frozenset[int] | None = None
    wrapper: tuple[str, ...] = ()  # e.g. faketime, for the `time` variation and the second build of a pair
    variations: tuple[str, ...] = ()
    mounts: tuple[sandbox.Mount, ...] = ()  # e.g. the prefetched Rust crates, a compiled locale
    config_settings: tuple[str, ...] = ()  # -C options to the frontend (the upstream rebuild's inferred ones)
    dirs: tuple[str, ...] = ()  # writable empty folders on the private /tmp (e.g. what cargo writes)
    path_dirs: tuple[str, ...] = ()  # first on PATH, before the venv's bin
    domainname: str | None = None  # the NIS domain name (None: the host's, as the UTS namespace copies it)
    reordered: bool = False  # the build tree's folders list their entries reversed (the `file_order` variation)


def _env(settings: BuildSettings, python: layout.PythonView) -> dict[str, str]:
    extra = dict(python.env)
    extra.update(settings.env_vars)
    extra.update({"HOME": settings.home, "USER": settings.user, "LOGNAME": settings.user, "TMPDIR": layout.TMP})
    return sandbox.scrubbed_env(extra, [*settings.path_dirs, f"{layout.VENV}/bin"])


def check_wheel_name(name: object, project: str) -> str:
    """Why ``name`` (sent by the sandbox: hostile) is not an acceptable wheel file name of ``project``, or ""."""
    if not isinstance(name, str) or not name or "/" in name or "\0" in name or name in (".", ".."):
        return "the build named no wheel file"
    if not name.endswith(".whl"):
        return f"{name[:120]} is not a wheel"
    try:
        wheel_name = parse_wheel_filename(name)[0]
    except InvalidWheelFilename:
        return f"{name[:120]} is not a valid wheel file name"
    if canonicalize_name(wheel_name) != canonicalize_name(project):
        return f"{name} is not a wheel of {project}"
    return ""


def receive_wheel(stream: BinaryIO, keep_dir: Path, project: str) -> tuple[Path | None, str | None, str]:
    """Read what the sandbox sent (a JSON header line, then the wheel) into ``keep_dir``: (path, sha256, why not)."""
    line = stream.readline(HEADER_CAP)
    if not line.endswith(b"\n"):
        return None, None, "the build sent no wheel"
    try:
        header = json.loads(line)
    except ValueError:
        return None, None, "the build sent an unreadable header"
    if not isinstance(header, dict):
        return None, None, "the build sent an unreadable header"
    if "error" in header:
        return None, None, str(header["error"])[:300]
    name = header.get("wheel")
    problem = check_wheel_name(name, project)
    if problem:
        return None, None, problem
    path = keep_dir / name
    path.unlink(missing_ok=True)
    digest, size = hashlib.sha256(), 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as out:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            size += len(chunk)
            if size > MAX_WHEEL_BYTES:
                break
            digest.update(chunk)
            out.write(chunk)
    if size > MAX_WHEEL_BYTES:
        path.unlink()
        return None, None, f"{name} is over the {MAX_WHEEL_BYTES} byte cap"
    if not zipfile.is_zipfile(path):
        path.unlink()
        return None, None, f"{name} is not a zip archive"
    return path, digest.hexdigest(), ""


def build_wheel(
    *,
    sdist: Path,
    project: str,
    env: Environment,
    python: layout.PythonView,
    settings: BuildSettings,
    keep_dir: Path,
    backend: sandbox.Backend,
    limits: sandbox.Limits,
) -> tuple[Build, str]:
    """One build from a fresh unpack; returns the record and, on failure, a one-line reason."""
    keep_dir.mkdir(parents=True, exist_ok=True)
    for old in keep_dir.glob("*.whl"):
        old.unlink()
    log = keep_dir / "build.log"
    log.unlink(missing_ok=True)
    sdist_inside = f"{layout.SDISTS}/{sdist.name}"
    argv = (python.executable, "-I", "-S", layout.HELPER, "--unpack", sdist_inside, "--into", str(settings.build_dir),
            "--dist", layout.DIST, "--umask", f"{settings.umask:03o}", "--send-wheel", "--",
            *settings.wrapper, f"{layout.VENV}/bin/python", "-m", "build", "--wheel", "--no-isolation",
            "--skip-dependency-check", *(f"-C{c}" for c in settings.config_settings), "--outdir", layout.DIST, ".")
    spec = sandbox.Spec(
        argv=argv,
        env=_env(settings, python),
        cwd=layout.TMP,
        mounts=(sandbox.Mount(python.host_prefix, target=python.prefix),
                *(sandbox.Mount(o.host, target=o.inside) for o in python.overlays),
                sandbox.Mount(env.path, target=layout.VENV), sandbox.Mount(str(sdist), target=sdist_inside),
                sandbox.Mount(str(layout.HELPER_SOURCE), target=layout.HELPER), *settings.mounts),
        network=False,
        hostname=settings.hostname,
        umask=settings.umask,
        uid=settings.uid,
        user=settings.user,
        cpus=settings.cpus,
        dirs=(settings.home, *settings.dirs),
        domainname=settings.domainname,
        reordered=str(settings.build_dir.parent) if settings.reordered else None,
    )
    started = time.monotonic()
    outcome = sandbox.run(backend, spec, limits, log, receive=lambda stream: receive_wheel(stream, keep_dir, project))
    seconds = time.monotonic() - started
    kept = sha = None
    reason = ""
    if outcome.timed_out:
        reason = f"timed out after {limits.timeout:.0f}s"
    elif outcome.oom:
        reason = f"out of memory (over {limits.memory / sandbox.GiB:g} GiB)"
    elif outcome.returncode != 0:
        reason = f"the build exited with {outcome.returncode}"
    elif isinstance(outcome.received, tuple):
        kept, sha, reason = outcome.received
    elif isinstance(outcome.received, Exception):
        raise outcome.received  # the tracker failed to keep the wheel (e.g. out/ is full): never a verdict
    else:
        reason = "the build sent no wheel"
    record = Build(
        wheel=kept.name if kept else None,
        sha256=sha,
        seconds=round(seconds, 3),
        path=str(kept) if kept else None,
        log=str(log),
        returncode=outcome.returncode,
        build_dir=str(settings.build_dir),
        variations=settings.variations,
        timed_out=outcome.timed_out,
    )
    return record, reason
