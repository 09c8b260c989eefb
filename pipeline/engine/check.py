"""Check one release on one interpreter: environment, two builds, compare.  Always returns a Result."""

from __future__ import annotations

import contextlib
import shlex
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename

from . import environments
from . import sandbox
from .. import vary
from .. import __version__
from .build import CONTROLLED_ENV, CONTROLS, BuildSettings, build_wheel, fresh_source
from .compare import same_wheel
from .environments import EnvLock, PipSource
from ..explain import compare_wheels
from ..errors import BuildRequirementsFailed, PipelineError, SandboxUnavailable, UsageError
from .fetch import add_local, fetch_artifact
from .interpreters import Interpreter
from .net import Client
from .provision import (CARGO_HOME, Provisioner, cached_lock, cargo_manifests, crate_mount, load_lock, save_lock,
                        static_requirements)
from ..records import VARIATIONS, Artifact, Build, Environment, Isolation, Release, Result, Upstream, utcnow
from .resolve import PYPI_SIMPLE, resolve_release
from ..upstream.compare import check_upstream
from .workspace import Workspace, reachable_by_builds



@dataclass(frozen=True)
class CheckOptions:
    out: Path = Path("out")
    index_url: str = PYPI_SIMPLE
    find_links: tuple[str, ...] = ()
    timeout: float = 1800.0
    memory: int = 8 * sandbox.GiB
    unsandboxed: bool = False
    vary: bool = False  # the strict check: variation builds after a reproducible pair (pipeline.vary)
    upstream: bool = True  # compare with the index's own wheel (only for releases from an index)

    def pip_source(self) -> PipSource:
        links = tuple(str(Path(link).resolve()) if Path(link).exists() else link for link in self.find_links)
        return PipSource(index_url=self.index_url, find_links=links)


@dataclass(frozen=True)
class Target:
    """What is checked: a release resolved from an index, or a local sdist."""

    name: str
    version: str
    sdist: Artifact | None
    sdist_path: Path | None
    argument: str  # how the user named it, for the reproduce command
    release: Release | None = None
    problem: str = ""  # why the sdist cannot be used (digest mismatch, download failed)


@dataclass(frozen=True)
class Extra:
    """What a build needs beyond the environment (prefetched crates): mounts and variables."""

    mounts: tuple[sandbox.Mount, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    """A phase change of one check, for the live view."""

    name: str
    version: str
    interpreter: str
    phase: str


@dataclass
class Checker:
    options: CheckOptions
    client: Client | None = None
    backend: sandbox.Backend | None = None
    progress: Callable[[Progress], None] = field(default=lambda event: None)

    def __post_init__(self) -> None:
        self.workspace = Workspace(self.options.out.resolve())
        if self.client is None:
            self.client = Client(self.workspace.http_cache)
        if self.backend is None:
            self.backend = sandbox.choose_backend(self.options.unsandboxed)
        if self.backend.isolated:
            reachable_by_builds(self.workspace.out)
        self.limits = sandbox.Limits(timeout=self.options.timeout, memory=self.options.memory)
        self._machine: vary.Machine | None = None
        self._machine_lock = threading.Lock()
        self.provisioner = Provisioner(self.workspace, self.backend, self.limits, self.options.pip_source())

    # -- what to check ---------------------------------------------------------------------
    def target(self, argument: str) -> Target:
        """Resolve ``name[==version]`` on the index, or take a local sdist; fetch and verify it."""
        if argument.endswith((".tar.gz", ".zip")) or "/" in argument:
            return self.local_target(Path(argument), argument)
        return self.release_target(resolve_release(self.client, self.options.index_url, argument))

    def release_target(self, release: Release) -> Target:
        """A resolved release's sdist, fetched and verified (a file that fails is the target's problem)."""
        argument = f"{release.name}=={release.version}"
        if release.sdist is None:
            return Target(release.name, release.version, None, None, argument, release)
        try:
            path = fetch_artifact(self.client, release.sdist, self.workspace.sdists)
        except PipelineError as exc:  # known release, unusable file: an `error` result, never a verdict
            return Target(release.name, release.version, release.sdist, None, argument, release, problem=str(exc))
        return Target(release.name, release.version, release.sdist, path, argument, release)

    def local_target(self, path: Path, argument: str) -> Target:
        try:
            name, version = parse_sdist_filename(path.name)
        except InvalidSdistFilename:
            raise UsageError(f"{path.name} is not named like an sdist (NAME-VERSION.tar.gz)") from None
        stored, digest = add_local(path, self.workspace.sdists)
        artifact = Artifact(filename=path.name, url=path.resolve().as_uri(), sha256=digest, size=stored.stat().st_size)
        return Target(canonicalize_name(name), str(version), artifact, stored, argument)

    # -- one interpreter -------------------------------------------------------------------
    def reproduce_command(self, target: Target, interpreter: Interpreter) -> str:
        words = ["nox", "-s", "check", "--", target.argument, "--python", interpreter.minor]
        if target.release is not None and self.options.index_url != PYPI_SIMPLE:  # a local sdist needs no index
            words += ["--index-url", self.options.index_url]
        if self.options.unsandboxed:
            words.append("--unsandboxed")
        if self.options.vary:
            words.append("--vary")
        return shlex.join(words)

    def check(self, target: Target, interpreter: Interpreter) -> Result:
        """The result for one interpreter; the whole check runs as one leased build uid."""
        try:
            with sandbox.lease_uid() as uid:
                return self._check(target, interpreter, uid)
        except SandboxUnavailable as exc:
            return Result(name=target.name, version=target.version, python=interpreter.version,
                          interpreter=interpreter.tag, status="error", started=utcnow(), finished=utcnow(),
                          reproduce=self.reproduce_command(target, interpreter), message=str(exc))

    def _check(self, target: Target, interpreter: Interpreter, uid: int) -> Result:
        started = utcnow()
        common = dict(
            name=target.name, version=target.version, python=interpreter.version, interpreter=interpreter.tag,
            started=started, reproduce=self.reproduce_command(target, interpreter), sdist=target.sdist,
            index_url=self.options.index_url if target.release else "", controls=dict(CONTROLS),
            isolation=Isolation(sandbox=self._sandbox_name(), offline=self.backend.offline_capable,
                                user=f"uid {uid}" if self.backend.isolated else ""),
            tracker=__version__,
        )
        if target.problem:
            return Result(status="error", finished=utcnow(), message=target.problem, **common)
        if target.sdist_path is None:
            return Result(status="no-sdist", finished=utcnow(), message="the release publishes no sdist", **common)
        env: Environment | None = None
        builds: list[Build] = []
        try:
            env = self.environment(target, interpreter, uid)
            with self.crates(target, interpreter, uid) as extra:
                settings = self.settings(target, interpreter, uid, extra)
                for number in (1, 2):
                    self._say(target, interpreter, f"build {number}/2")
                    build, reason = self.build(target, interpreter, env, number, settings)
                    builds.append(build)
                    if reason:
                        status = "timeout" if build.timed_out else "build-failed"
                        return Result(status=status, finished=utcnow(), environment=env, builds=tuple(builds),
                                      message=f"build {number}: {reason}", **common)
                if self.options.vary and same_wheel(*builds):
                    upstream = self.upstream(target, interpreter, builds[0])
                    return self.strict(target, interpreter, env, tuple(builds), {**common, "upstream": upstream},
                                       settings)
        except BuildRequirementsFailed as exc:
            return Result(status="build-failed", finished=utcnow(), environment=env, builds=tuple(builds),
                          message=str(exc), **common)
        except PipelineError as exc:
            return Result(status="error", finished=utcnow(), environment=env, builds=tuple(builds),
                          message=str(exc), **common)
        except Exception as exc:  # a tracker bug must never become a verdict on the package
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return Result(status="error", finished=utcnow(), environment=env, builds=tuple(builds),
                          message=f"tracker error: {detail}", **common)
        first, second = builds
        upstream = self.upstream(target, interpreter, first)
        if same_wheel(first, second):
            return Result(status="reproducible", finished=utcnow(), environment=env, builds=tuple(builds),
                          upstream=upstream, **common)
        comparison = compare_wheels(Path(first.path), Path(second.path),
                                    diffoscope_dir=self.keep_dir(target, interpreter) / "diffoscope")
        report = comparison.diffoscope.html if comparison.diffoscope else None
        skipped = {}
        if self.options.vary:  # a variation cannot be blamed for a difference the controlled pair already has
            skipped = dict(variations={n: "not-tested" for n in VARIATIONS},
                           message="variation builds skipped: the controlled builds already differ")
        return Result(status="unreproducible", finished=utcnow(), environment=env, builds=tuple(builds),
                      differences=comparison.differences, diffoscope=str(report) if report else None,
                      upstream=upstream, **skipped, **common)

    def upstream(self, target: Target, interpreter: Interpreter, build: Build) -> Upstream | None:
        """The index's own wheel against this build's (None for a local sdist, or when switched off)."""
        if not self.options.upstream or target.release is None or not build.path:
            return None
        self._say(target, interpreter, "upstream")
        try:
            return check_upstream(self.client, target.release, Path(build.path), self.workspace.wheels_cache,
                                  self.workspace.out / "cache" / "scratch")
        except Exception as exc:  # a tracker bug here must not cost the build verdict
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return Upstream("not-checked", note=f"tracker error: {detail}")

    def strict(self, target: Target, interpreter: Interpreter, env: Environment, builds: tuple[Build, ...],
               common: dict, base: BuildSettings) -> Result:
        """The reproducible result with the variation search added (see pipeline.vary)."""

        def build_one(settings: BuildSettings, label: str) -> tuple[Build, str]:
            self._say(target, interpreter, f"{label}: {', '.join(settings.variations)}")
            return self.build(target, interpreter, env, label, settings)

        try:
            outcome = vary.run_variations(builds[0], base, self.machine(), build_one,
                                          lambda a, b: compare_wheels(a, b).differences)
        except Exception as exc:  # the controlled verdict stands; only the strict check could not run
            detail = str(exc) if isinstance(exc, PipelineError) else traceback.format_exception_only(type(exc), exc)[-1].strip()
            return Result(status="reproducible", finished=utcnow(), environment=env, builds=builds,
                          variations={n: "not-tested" for n in VARIATIONS},
                          message=f"variation search failed: {detail}", **common)
        return Result(status="reproducible", finished=utcnow(), environment=env, builds=builds + outcome.builds,
                      variations=outcome.variations, sensitive_to=outcome.sensitive_to,
                      variation_differences=outcome.differences, message=outcome.message, **common)

    def machine(self) -> vary.Machine:
        """What this machine can vary, probed on first use (a locale may be compiled once)."""
        with self._machine_lock:
            if self._machine is None:
                self._machine = vary.probe_machine(self.workspace.out / "cache" / "locales", self.backend.isolated)
            return self._machine

    def _sandbox_name(self) -> str:
        if not self.backend.isolated:
            return "none"
        return sandbox.bubblewrap_version() or "bubblewrap"

    def _say(self, target: Target, interpreter: Interpreter, phase: str) -> None:
        self.progress(Progress(target.name, target.version, interpreter.tag, phase))

    def keep_dir(self, target: Target, interpreter: Interpreter) -> Path:
        return self.workspace.result_dir(target.name, target.version, interpreter.tag)

    def environment(self, target: Target, interpreter: Interpreter, uid: int = sandbox.BUILD_UID) -> Environment:
        """The pinned env for this sdist x interpreter; build requirements resolved once and cached."""
        self._say(target, interpreter, "environment")
        log = self.keep_dir(target, interpreter) / "environment.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.unlink(missing_ok=True)
        toolchain = environments.read_lock(environments.toolchain_lock_path(interpreter))
        base = self.provisioner.ensure(interpreter, toolchain, (), log, uid)
        lock_path = cached_lock(self.workspace, target.sdist.sha256, base)
        lock = load_lock(lock_path)
        if lock is not None:
            return self.provisioner.ensure(interpreter, toolchain, lock, log, uid)
        build_dir = self.workspace.build_dir(target.name, target.version, interpreter.tag)
        with EnvLock(build_dir):
            source = fresh_source(target.sdist_path, build_dir, uid)
            static = static_requirements(source)
            lock = self.provisioner.resolve(base, interpreter, static, log, uid)
            env = self.provisioner.ensure(interpreter, toolchain, lock, log, uid)
            missing = self.provisioner.missing_requirements(env, interpreter, source, log, uid)
            if missing:
                lock = self.provisioner.resolve(base, interpreter, static + missing, log, uid)
                env = self.provisioner.ensure(interpreter, toolchain, lock, log, uid)
                fresh_source(target.sdist_path, build_dir, uid)
                still = self.provisioner.missing_requirements(env, interpreter, source, log, uid)
                if still:
                    raise BuildRequirementsFailed("build requirements", f"still unmet after install: {', '.join(still)}")
        save_lock(lock_path, lock)
        return env

    @contextlib.contextmanager
    def crates(self, target: Target, interpreter: Interpreter, uid: int) -> Iterator[Extra]:
        """Rust crates the sdist locks, fetched once with the network, for its offline builds.

        The crate folder stays locked (and owned by this check's uid) until the builds are done.
        """
        build_dir = self.workspace.build_dir(target.name, target.version, interpreter.tag)
        cargo_home = self.workspace.out / "cache" / "cargo" / target.sdist.sha256[:24]
        with contextlib.ExitStack() as held:
            with EnvLock(build_dir):  # released before the builds, which take it themselves
                source = fresh_source(target.sdist_path, build_dir, uid)
                rust = bool(cargo_manifests(source))
                if rust:
                    cargo_home.mkdir(parents=True, exist_ok=True)
                    held.enter_context(EnvLock(cargo_home))
                    if not (cargo_home / ".fetched").is_file():
                        self._say(target, interpreter, "fetching Rust crates")
                        log = self.keep_dir(target, interpreter) / "environment.log"
                        self.provisioner.fetch_crates(interpreter, source, cargo_home, log, uid)
                        (cargo_home / ".fetched").write_text("cargo fetch --locked\n")
                    sandbox.own_for_build(cargo_home, uid)
            if not rust:
                yield Extra()
                return
            yield Extra((crate_mount(cargo_home),), {"CARGO_HOME": CARGO_HOME, "CARGO_NET_OFFLINE": "true"})

    def settings(self, target: Target, interpreter: Interpreter, uid: int = sandbox.BUILD_UID,
                 extra: Extra | None = None) -> BuildSettings:
        """The controlled build: the fixed directory, the controls, this check's uid and extras."""
        extra = extra or Extra()
        return BuildSettings(build_dir=self.workspace.build_dir(target.name, target.version, interpreter.tag),
                             uid=uid, mounts=extra.mounts,
                             env_vars={**CONTROLLED_ENV, **extra.env})

    def build(self, target: Target, interpreter: Interpreter, env: Environment, number: int | str,
              settings: BuildSettings | None = None) -> tuple[Build, str]:
        settings = settings or self.settings(target, interpreter)
        return build_wheel(
            sdist=target.sdist_path, project=target.name, env=env, interpreter_prefix=interpreter.prefix,
            settings=settings, keep_dir=self.keep_dir(target, interpreter) / str(number),
            backend=self.backend, limits=self.limits,
        )
