"""Build a wheel once: fresh unpack at the fixed directory, controlled variables, sandboxed, offline."""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from . import sandbox
from .environments import EnvLock
from .fetch import sha256_of
from ..records import Build, Environment
from .unpack import fresh_dir, unpack_sdist
from .workspace import SOURCE_DATE_EPOCH

MAX_WHEEL_BYTES = 2 * 1024**3

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
    """One build's world.  A variation build changes some of these (see pipeline.vary)."""

    build_dir: Path
    env_vars: Mapping[str, str] = field(default_factory=lambda: dict(CONTROLLED_ENV))
    umask: int = 0o022
    home: str = "/tmp/home"
    user: str = "builder"
    uid: int = sandbox.BUILD_UID
    hostname: str = "builder"
    cpus: frozenset[int] | None = None
    wrapper: tuple[str, ...] = ()  # e.g. faketime, for the `time` variation
    variations: tuple[str, ...] = ()
    mounts: tuple[sandbox.Mount, ...] = ()  # e.g. the prefetched Rust crates, a compiled locale
    config_settings: tuple[str, ...] = ()  # -C options to the frontend (the upstream rebuild's inferred ones)


def fresh_source(sdist: Path, build_dir: Path, uid: int = sandbox.BUILD_UID) -> Path:
    """Unpack the sdist anew at exactly ``build_dir`` (callers hold its EnvLock)."""
    staging = fresh_dir(build_dir.with_name(build_dir.name + ".unpack"))
    try:
        root = unpack_sdist(sdist, staging)
        if build_dir.exists():
            shutil.rmtree(build_dir)
        os.replace(root, build_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    sandbox.own_for_build(build_dir, uid)
    return build_dir


def _env(settings: BuildSettings, env: Environment) -> dict[str, str]:
    extra = dict(settings.env_vars)
    extra.update({"HOME": settings.home, "USER": settings.user, "LOGNAME": settings.user, "TMPDIR": "/tmp"})
    return sandbox.scrubbed_env(extra, [str(Path(env.path) / "bin")])


def accept_wheel(dist: Path, project: str) -> tuple[Path | None, str]:
    """The one wheel a build produced, or why none is acceptable."""
    entries = list(dist.iterdir()) if dist.is_dir() else []
    wheels = [p for p in entries if p.name.endswith(".whl")]
    if len(wheels) != 1:
        return None, f"expected one wheel in the output, found {len(wheels)}"
    wheel = wheels[0]
    if wheel.is_symlink() or not wheel.is_file():
        return None, f"{wheel.name} is not a regular file"
    if wheel.stat().st_size > MAX_WHEEL_BYTES:
        return None, f"{wheel.name} is over the {MAX_WHEEL_BYTES} byte cap"
    try:
        name = parse_wheel_filename(wheel.name)[0]
    except InvalidWheelFilename:
        return None, f"{wheel.name} is not a valid wheel file name"
    if canonicalize_name(name) != canonicalize_name(project):
        return None, f"{wheel.name} is not a wheel of {project}"
    if not zipfile.is_zipfile(wheel):
        return None, f"{wheel.name} is not a zip archive"
    return wheel, ""


def build_wheel(
    *,
    sdist: Path,
    project: str,
    env: Environment,
    interpreter_prefix: str,
    settings: BuildSettings,
    keep_dir: Path,
    backend: sandbox.Backend,
    limits: sandbox.Limits,
) -> tuple[Build, str]:
    """One build from a fresh unpack; returns the record and, on failure, a one-line reason."""
    keep_dir.mkdir(parents=True, exist_ok=True)
    log = keep_dir / "build.log"
    log.unlink(missing_ok=True)
    build_dir = settings.build_dir
    dist = build_dir.with_name(build_dir.name + ".dist")
    with EnvLock(build_dir):
        fresh_source(sdist, build_dir, settings.uid)
        fresh_dir(dist)
        sandbox.own_for_build(dist, settings.uid)
        argv = (*settings.wrapper, str(Path(env.path) / "bin" / "python"), "-m", "build", "--wheel",
                "--no-isolation", "--skip-dependency-check", *(f"-C{c}" for c in settings.config_settings),
                "--outdir", str(dist), ".")
        spec = sandbox.Spec(
            argv=argv,
            env=_env(settings, env),
            cwd=str(build_dir),
            mounts=(sandbox.Mount(interpreter_prefix), sandbox.Mount(env.path),
                    sandbox.Mount(str(build_dir), writable=True), sandbox.Mount(str(dist), writable=True),
                    *settings.mounts),
            network=False,
            hostname=settings.hostname,
            umask=settings.umask,
            uid=settings.uid,
            cpus=settings.cpus,
            dirs=(settings.home,),
        )
        started = time.monotonic()
        outcome = sandbox.run(backend, spec, limits, log)
        seconds = time.monotonic() - started
        wheel, reason = (None, "") if outcome.timed_out else accept_wheel(dist, project)
        kept = sha = None
        if wheel is not None and outcome.returncode == 0:
            kept = keep_dir / wheel.name
            shutil.copyfile(wheel, kept, follow_symlinks=False)
            sha = sha256_of(kept)
        elif outcome.returncode != 0 and not outcome.timed_out:
            reason = f"the build exited with {outcome.returncode}"
        shutil.rmtree(dist, ignore_errors=True)
    record = Build(
        wheel=kept.name if kept else None,
        sha256=sha,
        seconds=round(seconds, 3),
        path=str(kept) if kept else None,
        log=str(log),
        returncode=outcome.returncode,
        build_dir=str(build_dir),
        variations=settings.variations,
        timed_out=outcome.timed_out,
    )
    if outcome.timed_out:
        reason = f"timed out after {limits.timeout:.0f}s"
    return record, reason
