"""Get a release ready to build on one interpreter: its checked archive, its Rust crates, its pinned environment.

:func:`prepare` is the seam every build goes through (the check's two, the variation builds, the
upstream rebuild): it yields a :class:`Prepared` whose :meth:`~Prepared.controlled` settings are
the controlled build's world.  A build requirement with only an sdist is built first (offline, in
the sandbox, by ``build_requirement``) and enters the lock by the digest of the wheel built.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

from ..errors import BuildRequirementsFailed, SdistOnlyRequirements
from ..records import Environment
from . import environments, layout, sandbox
from .build import CONTROLLED_ENV, BuildSettings
from .environments import EnvLock
from .interpreters import Interpreter
from .net import atomic_write
from .provision import CARGO_HOME, Provisioner, cached_lock, crate_access, load_lock, save_lock
from .sdist import checked_requirements, read_sdist, static_requirements
from .target import Target

#: how many sdist-only build requirements one environment may need built (a chain, or several at once)
MAX_BUILT_REQUIREMENTS = 8
_preparing = threading.local()


def preparing() -> tuple[str, ...]:
    """The projects whose environments this thread is making, outermost first (a requirement naming
    one of them needs itself: building it would wait forever on its own folder)."""
    return tuple(getattr(_preparing, "names", ()))


@dataclass(frozen=True)
class Extra:
    """What a build needs beyond the environment (prefetched crates): mounts, folders and variables."""

    mounts: tuple[sandbox.Mount, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """A release ready to build on one interpreter, as one leased uid."""

    target: Target
    interpreter: Interpreter
    uid: int
    environment: Environment
    build_dir: Path  # inside the sandbox
    keep_dir: Path  # on the host, root's: kept wheels and logs
    extra: Extra = Extra()
    python: layout.PythonView | None = None

    def controlled(self) -> BuildSettings:
        """The controlled build: the fixed directory, the controls, this check's uid and extras."""
        return BuildSettings(build_dir=self.build_dir, uid=self.uid, mounts=self.extra.mounts, dirs=self.extra.dirs,
                             env_vars={**CONTROLLED_ENV, **self.extra.env})


Say = Callable[[str], None]
#: builds the wheel of a requirement that has only an sdist: (name, the requirements naming it,
#: interpreter, uid) -> the folder holding that one wheel
RequirementBuilder = Callable[[str, list[str], Interpreter, int], Path]


@dataclass(frozen=True)
class Locks:
    """Exact locks to build with instead of resolving (a record's, or an inferred older toolchain's)."""

    toolchain: tuple[str, ...] | None = None  # default: environments/cpXY.txt
    build: tuple[str, ...] | None = None  # default: the sdist's build requirements, resolved once and cached


@contextlib.contextmanager
def prepare(provisioner: Provisioner, target: Target, interpreter: Interpreter, uid: int,
            say: Say = lambda phase: None, locks: Locks = Locks(),
            build_requirement: RequirementBuilder | None = None) -> Iterator[Prepared]:
    """Check the archive, fetch the crates it locks, make the environment; yield it ready to build.

    The kept-results folder is locked for the whole block: a second check of the same release (another
    process, or a thread) waits rather than sharing it.  The crate folder stays locked too.
    """
    workspace = provisioner.workspace
    keep_dir = workspace.result_dir(target.name, target.version, interpreter.tag)
    build_dir = workspace.build_dir(target.name, target.version, interpreter.tag)
    with contextlib.ExitStack() as held:
        held.enter_context(EnvLock(keep_dir))
        log = keep_dir / "environment.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
        facts = read_sdist(target.sdist_path)
        sandbox.readable(target.sdist_path)
        extra = Extra()
        if facts.cargo_manifests:
            cargo_home = workspace.crates / target.sdist.sha256[:24]
            held.enter_context(EnvLock(cargo_home))
            marker = cargo_home.with_name(cargo_home.name + ".fetched")  # root's folder: no build reaches it
            if not marker.is_file() or marker.is_symlink():
                say("fetching Rust crates")
                shutil.rmtree(cargo_home, ignore_errors=True)  # a fetch cut short; never follows a link
                cargo_home.mkdir(parents=True, mode=0o755)
                sandbox.own_for_build(cargo_home, uid)
                provisioner.fetch_crates(interpreter, target.sdist_path, build_dir, facts.cargo_manifests, cargo_home,
                                         log, uid)
                atomic_write(marker, b"cargo fetch --locked\n")
            mounts, dirs = crate_access(cargo_home)
            extra = Extra(mounts, {"CARGO_HOME": CARGO_HOME, "CARGO_NET_OFFLINE": "true"}, dirs)
        say("environment")
        toolchain = locks.toolchain or environments.read_lock(environments.toolchain_lock_path(interpreter))
        if locks.build is not None:
            env = provisioner.ensure(interpreter, toolchain, locks.build, log, uid, built_links(workspace, locks.build))
        else:
            outer = preparing()
            _preparing.names = (*outer, target.name)
            try:
                env = _environment(provisioner, target, interpreter, uid, build_dir, log, toolchain,
                                   static_requirements(facts), build_requirement)
            finally:
                _preparing.names = outer
        yield Prepared(target, interpreter, uid, env, build_dir, keep_dir, extra, provisioner.python(interpreter))


def built_links(workspace, lock: tuple[str, ...]) -> tuple[str, ...]:
    """The folders of built requirement wheels a lock names (by digest), for the installer to find."""
    links = []
    for line in lock:
        digest = line.rpartition("sha256:")[2].strip()
        folder = workspace.built / digest
        if digest and folder.is_dir():
            links.append(str(folder))
    return tuple(links)


def _environment(provisioner: Provisioner, target: Target, interpreter: Interpreter, uid: int, build_dir: Path,
                 log: Path, toolchain: tuple[str, ...], static: list[str],
                 build_requirement: RequirementBuilder | None) -> Environment:
    """The pinned env for this sdist x interpreter; build requirements resolved once and cached."""
    workspace = provisioner.workspace
    base = environments.base_fingerprint(interpreter, toolchain, provisioner.inputs(interpreter))
    lock_path = cached_lock(workspace, target.sdist.sha256, base)
    lock = load_lock(lock_path)
    if lock is not None:
        return provisioner.ensure(interpreter, toolchain, lock, log, uid, built_links(workspace, lock))
    static = checked_requirements(static)
    lock, links = _resolve(provisioner, interpreter, static, log, uid, build_requirement)
    # the backend's hook runs while the new venv's bytecode is compiled
    env, missing = provisioner.ensure_and(
        interpreter, toolchain, lock, log, uid, links,
        alongside=lambda made: provisioner.missing_requirements(interpreter, made, target.sdist_path, build_dir, log, uid))
    missing = checked_requirements(missing)
    if missing:
        lock, links = _resolve(provisioner, interpreter, static + missing, log, uid, build_requirement)
        env = provisioner.ensure(interpreter, toolchain, lock, log, uid, links)
        still = provisioner.missing_requirements(interpreter, env, target.sdist_path, build_dir, log, uid)
        if still:
            raise BuildRequirementsFailed("build requirements", f"still unmet after install: {', '.join(still)}")
    save_lock(lock_path, lock)
    return env


def _resolve(provisioner: Provisioner, interpreter: Interpreter, requirements: list[str], log: Path, uid: int,
             build_requirement: RequirementBuilder | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Resolve wheels only; each requirement that has only an sdist is built first, then resolution
    goes on with its wheel (and fetches that wheel's own dependencies)."""
    links: list[str] = []
    built: set[str] = set()
    while True:
        try:
            return provisioner.resolve(interpreter, requirements, log, uid, find_links=tuple(links)), tuple(links)
        except SdistOnlyRequirements as exc:
            if build_requirement is None:
                raise BuildRequirementsFailed(exc.what, "publish only an sdist, and this run cannot build them",
                                              exc.log) from None
            for name in exc.names:
                if name in built or len(built) >= MAX_BUILT_REQUIREMENTS:
                    raise BuildRequirementsFailed(exc.what, "still have no usable wheel after building "
                                                  f"{', '.join(sorted(built)) or 'none'}", exc.log) from None
                built.add(name)
                links.append(str(build_requirement(name, requirements, interpreter, uid)))
