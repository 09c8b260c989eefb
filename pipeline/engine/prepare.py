"""Get a release ready to build on one interpreter: one unpack, its Rust crates, its pinned environment.

:func:`prepare` is the seam every build goes through (the check's two, the variation builds, the
upstream rebuild): it yields a :class:`Prepared` whose :meth:`~Prepared.controlled` settings are
the controlled build's world.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

from ..errors import BuildRequirementsFailed
from ..records import Environment
from . import environments, sandbox
from .build import CONTROLLED_ENV, BuildSettings, fresh_source
from .environments import EnvLock
from .interpreters import Interpreter
from .provision import CARGO_HOME, Provisioner, cached_lock, cargo_manifests, crate_mount, load_lock, save_lock, \
    static_requirements
from .target import Target
from .workspace import Workspace


@dataclass(frozen=True)
class Extra:
    """What a build needs beyond the environment (prefetched crates): mounts and variables."""

    mounts: tuple[sandbox.Mount, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """A release ready to build on one interpreter, as one leased uid."""

    target: Target
    interpreter: Interpreter
    uid: int
    environment: Environment
    build_dir: Path
    keep_dir: Path
    extra: Extra = Extra()

    def controlled(self) -> BuildSettings:
        """The controlled build: the fixed directory, the controls, this check's uid and extras."""
        return BuildSettings(build_dir=self.build_dir, uid=self.uid, mounts=self.extra.mounts,
                             env_vars={**CONTROLLED_ENV, **self.extra.env})


Say = Callable[[str], None]


@dataclass(frozen=True)
class Locks:
    """Exact locks to build with instead of resolving (a record's, or an inferred older toolchain's)."""

    toolchain: tuple[str, ...] | None = None  # default: environments/cpXY.txt
    build: tuple[str, ...] | None = None  # default: the sdist's build requirements, resolved once and cached


@contextlib.contextmanager
def prepare(provisioner: Provisioner, target: Target, interpreter: Interpreter, uid: int,
            say: Say = lambda phase: None, locks: Locks = Locks()) -> Iterator[Prepared]:
    """Unpack once, fetch the crates the sdist locks, make the environment; yield it ready to build.

    The crate folder stays locked (and owned by this check's uid) until the block ends.
    """
    workspace = provisioner.workspace
    keep_dir = workspace.result_dir(target.name, target.version, interpreter.tag)
    build_dir = workspace.build_dir(target.name, target.version, interpreter.tag)
    log = keep_dir / "environment.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    with contextlib.ExitStack() as held:
        with EnvLock(build_dir):  # released before the builds, which take it themselves
            source = fresh_source(target.sdist_path, build_dir, uid)
            extra = Extra()
            if cargo_manifests(source):
                cargo_home = workspace.out / "cache" / "cargo" / target.sdist.sha256[:24]
                cargo_home.mkdir(parents=True, exist_ok=True)
                held.enter_context(EnvLock(cargo_home))
                if not (cargo_home / ".fetched").is_file():
                    say("fetching Rust crates")
                    provisioner.fetch_crates(interpreter, source, cargo_home, log, uid)
                    (cargo_home / ".fetched").write_text("cargo fetch --locked\n")
                sandbox.own_for_build(cargo_home, uid)
                extra = Extra((crate_mount(cargo_home),), {"CARGO_HOME": CARGO_HOME, "CARGO_NET_OFFLINE": "true"})
            say("environment")
            if locks.build is not None:
                toolchain = locks.toolchain or environments.read_lock(environments.toolchain_lock_path(interpreter))
                env = provisioner.ensure(interpreter, toolchain, locks.build, log, uid)
            else:
                env = _environment(provisioner, workspace, target, interpreter, uid, source, log, locks.toolchain)
        yield Prepared(target, interpreter, uid, env, build_dir, keep_dir, extra)


def _environment(provisioner: Provisioner, workspace: Workspace, target: Target, interpreter: Interpreter,
                 uid: int, source: Path, log: Path, toolchain: tuple[str, ...] | None) -> Environment:
    """The pinned env for this sdist x interpreter; build requirements resolved once and cached."""
    toolchain = toolchain or environments.read_lock(environments.toolchain_lock_path(interpreter))
    base = provisioner.ensure(interpreter, toolchain, (), log, uid)
    lock_path = cached_lock(workspace, target.sdist.sha256, base)
    lock = load_lock(lock_path)
    if lock is not None:
        return provisioner.ensure(interpreter, toolchain, lock, log, uid)
    static = static_requirements(source)
    lock = provisioner.resolve(base, interpreter, static, log, uid)
    env = provisioner.ensure(interpreter, toolchain, lock, log, uid)
    missing = provisioner.missing_requirements(env, interpreter, source, log, uid)
    if missing:
        lock = provisioner.resolve(base, interpreter, static + missing, log, uid)
        env = provisioner.ensure(interpreter, toolchain, lock, log, uid)
        fresh_source(target.sdist_path, source, uid)  # the first hook may have left files behind
        still = provisioner.missing_requirements(env, interpreter, source, log, uid)
        if still:
            raise BuildRequirementsFailed("build requirements", f"still unmet after install: {', '.join(still)}")
    save_lock(lock_path, lock)
    return env
