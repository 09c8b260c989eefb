"""Check one release on one interpreter: prepare, two builds, compare.  Always returns a Result.

The seams: :meth:`Checker.prepare` (one unpack, crates, environment), :meth:`Checker.rebuild` (one
build under given settings; the check, the variation builds and the upstream rebuild all use it),
and :class:`~pipeline.engine.outcome.Draft` (the one place a Result is made).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import threading
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .. import vary
from ..agreement import agreement, groups, named_by
from ..errors import BuildRequirementsFailed, PipelineError, SandboxUnavailable, WheelUnreadable
from ..explain import compare_wheels
from ..records import VARIATIONS, Agreement, Build, Difference, Isolation, Release, Result, Upstream
from ..upstream import check_upstream, match_toolchain
from . import clock, sandbox
from .build import BuildSettings, build_wheel
from .compare import same_wheel
from .interpreters import Interpreter
from .net import Client
from .options import CheckOptions
from .outcome import Draft, rederive_command, reproduce_command
from .prepare import Locks, Prepared, prepare
from .provision import Provisioner
from .pair import CLOCK_SHIFT, GATE_OF_BUILDS, build_pair, plan_pair
from .requirements import build_requirement
from .requires import exclusion
from .target import Target, find_target, find_targets, release_target
from .workspace import Workspace

__all__ = ["CheckOptions", "Checker", "Locks", "Phase", "Prepared", "Target"]
_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clock")


@dataclass(frozen=True)
class Phase:
    """A phase change of one check, for the live view."""

    name: str
    version: str
    interpreter: str
    phase: str


def _detail(exc: BaseException) -> str:
    if isinstance(exc, PipelineError):
        return str(exc)
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


@dataclass
class Checker:
    options: CheckOptions
    client: Client | None = None
    backend: sandbox.Backend | None = None
    progress: Callable[[Phase], None] = field(default=lambda event: None)

    def __post_init__(self) -> None:
        self.workspace = Workspace(self.options.out.resolve())
        if self.client is None:
            self.client = Client(self.workspace.http_cache)
        if self.backend is None:
            self.backend = sandbox.choose_backend(self.options.unsandboxed)
        self.limits = sandbox.Limits(timeout=self.options.timeout, memory=self.options.memory)
        self._machine: vary.Machine | None = None
        self._machine_lock = threading.Lock()
        self._clock: Future | None = None
        self.provisioner = Provisioner(self.workspace, self.backend, self.limits, self.options.pip_source())

    # -- what to check ---------------------------------------------------------------------
    def target(self, argument: str, hashes: tuple[str, ...] = ()) -> Target:
        """Resolve ``name[==version]`` on the index, or take an sdist's URL or path; fetch and verify it
        (against ``hashes``, "sha256:HEX", when given)."""
        return find_target(argument, self.client, self.options.index_url, self.workspace.sdists, hashes)

    def targets(self, argument: str, interpreters: Sequence[Interpreter], hashes: tuple[str, ...] = ()
                ) -> list[tuple[Target, Interpreter]]:
        """What to check on each interpreter: ``name`` is the newest release that interpreter admits
        (as pip picks it); ``name==version`` and a local sdist are the same on every interpreter."""
        chosen = find_targets(argument, self.client, self.options.index_url, self.workspace.sdists,
                              sorted({i.version for i in interpreters}), hashes)
        return [(chosen[interpreter.version], interpreter) for interpreter in interpreters]

    def release_target(self, release: Release) -> Target:
        """A resolved release's sdist, fetched and verified (a file that fails is the target's problem)."""
        return release_target(release, self.client, self.workspace.sdists)

    # -- the seams -------------------------------------------------------------------------
    @contextlib.contextmanager
    def prepare(self, target: Target, interpreter: Interpreter, uid: int, locks: Locks = Locks()
                ) -> Iterator[Prepared]:
        """The release unpacked once, its crates fetched, its environment made (see engine.prepare);
        ``locks`` pins the toolchain and build locks instead of the defaults and a fresh resolution."""
        with prepare(self.provisioner, target, interpreter, uid,
                     lambda phase: self._say(target, interpreter, phase), locks,
                     build_requirement=self.build_requirement) as prepared:
            yield prepared

    def rebuild(self, prepared: Prepared, label: int | str, settings: BuildSettings | None = None
                ) -> tuple[Build, str]:
        """One build from a fresh unpack (the controlled one unless ``settings`` say otherwise)."""
        with GATE_OF_BUILDS.shared():  # a build that must run alone waits for this one
            return build_wheel(
                sdist=prepared.target.sdist_path, project=prepared.target.name, env=prepared.environment,
                python=prepared.python, settings=settings or prepared.controlled(),
                keep_dir=prepared.keep_dir / str(label), backend=self.backend, limits=self.limits,
            )

    def build_requirement(self, name: str, requirements: list[str], interpreter: Interpreter, uid: int) -> Path:
        """A build requirement with only an sdist, built from it (offline, sandboxed) into the kept store."""
        return build_requirement(self, name, requirements, interpreter, uid)

    # -- the check -------------------------------------------------------------------------
    def draft(self, target: Target, interpreter: Interpreter, uid: int | None = None) -> Draft:
        """What every result of this (target, interpreter) shares."""
        isolation = None
        if uid is not None:
            isolation = Isolation(sandbox=self._sandbox_name(), offline=self.backend.offline_capable,
                                  user=f"uid {uid}" if self.backend.isolated else "",
                                  limits=sandbox.confinement(self.backend))
        return Draft(
            name=target.name, version=target.version, python=interpreter.version, interpreter=interpreter.tag,
            reproduce=reproduce_command(target.argument, interpreter.selector, self.options,
                                        from_index=target.from_index),
            sdist=target.sdist, index_url=self.options.index_url if target.from_index else "", isolation=isolation,
            requires_python=target.requires_python,
            rederive=rederive_command(str(self.workspace.out), target.name, target.version, interpreter.version,
                                      self.options),
        )

    def check(self, target: Target, interpreter: Interpreter, locks: Locks = Locks()) -> Result:
        """The result for one interpreter; the whole check runs as one leased build uid.  A release
        whose Requires-Python excludes the interpreter is ``not-applicable``: nothing is built.
        ``locks`` pins the environment instead of resolving it (a rebuild from a record)."""
        reason = exclusion(target.requires_python, interpreter.version)
        if reason:
            return self.draft(target, interpreter).finish("not-applicable", message=reason)
        # a run starts from an empty kept folder: no earlier run's wheel or log can pass for this one's
        shutil.rmtree(self.workspace.result_dir(target.name, target.version, interpreter.tag), ignore_errors=True)
        try:
            with sandbox.lease_uid() as uid:
                return self._check(target, interpreter, self.draft(target, interpreter, uid).controlled(), uid, locks)
        except SandboxUnavailable as exc:
            return self.draft(target, interpreter).finish("error", message=str(exc))

    def _check(self, target: Target, interpreter: Interpreter, draft: Draft, uid: int, locks: Locks = Locks()
               ) -> Result:
        if target.problem:
            return draft.finish("error", message=target.problem)
        if target.sdist_path is None:
            return draft.finish("no-sdist", message="the release publishes no sdist")
        prepared: Prepared | None = None
        builds: list[Build] = []

        def failed(status, message: str) -> Result:
            env = prepared.environment if prepared else None
            return draft.finish(status, environment=env, builds=tuple(builds), message=message)

        if self.backend.isolated and not self.options.sequential:
            self._clock_library()  # made in the background: ready by the time the builds start
        try:
            with self.prepare(target, interpreter, uid, locks) as prepared:
                plan = plan_pair(self.options.sequential, self.limits, self.second_clock(), self.backend.isolated)

                def one(number: int, settings: BuildSettings) -> tuple[Build, str]:
                    self._say(target, interpreter, f"build {number}/2")
                    return self.rebuild(prepared, number, settings)

                pair, note = build_pair(one, prepared.controlled(), plan)
                draft = replace(draft, controls={**draft.controls, "pair": note})
                for number, (build, reason) in enumerate(pair, start=1):
                    builds.append(build)
                    if reason:
                        return failed("timeout" if build.timed_out else "build-failed", f"build {number}: {reason}")
                if self.options.vary and same_wheel(*builds):
                    return self.strict(prepared, draft, tuple(builds))
        except BuildRequirementsFailed as exc:
            return failed("build-failed", str(exc))
        except PipelineError as exc:
            return failed("error", str(exc))
        except Exception as exc:  # a tracker bug must never become a verdict on the package
            return failed("error", f"tracker error: {_detail(exc)}")
        return self.compared(prepared, draft, builds[0], builds[1])

    def compared(self, prepared: Prepared, draft: Draft, first: Build, second: Build) -> Result:
        """The verdict on two controlled builds, with the explanation and the index's wheel."""
        upstream = self.upstream(prepared.target, prepared.interpreter, first, prepared)
        fields = dict(environment=prepared.environment, builds=(first, second), upstream=upstream)
        if same_wheel(first, second):
            return draft.finish("reproducible", **fields)
        try:
            comparison = compare_wheels(Path(first.path), Path(second.path),
                                        diffoscope_dir=prepared.keep_dir / "diffoscope")
            differences = comparison.differences
            report = comparison.diffoscope.html if comparison.diffoscope else None
        except WheelUnreadable as exc:  # the build's wheel is hostile input; its hash still differs
            differences, report = (Difference("", "archive", f"not compared: {exc}"),), None
        if self.options.vary:  # a variation cannot be blamed for a difference the controlled pair already has
            fields.update(variations={n: "not-tested" for n in VARIATIONS},
                          message="variation builds skipped: the controlled builds already differ")
        return draft.finish("unreproducible", differences=differences,
                            diffoscope=str(report) if report else None, **fields)

    def upstream(self, target: Target, interpreter: Interpreter, build: Build, prepared: Prepared | None = None
                 ) -> Upstream | None:
        """The index's own wheel against this build's (None for a local sdist, or when switched off);
        with ``prepared``, rebuilt once more with the toolchain that made the index's wheel (pipeline.upstream)."""
        if not self.options.upstream or target.release is None or not build.path:
            return None
        self._say(target, interpreter, "upstream")
        try:
            upstream = check_upstream(self.client, target.release, Path(build.path), self.workspace.wheels_cache,
                                      self.workspace.scratch)
        except Exception as exc:  # a tracker bug here must not cost the build verdict
            return Upstream("not-checked", note=f"tracker error: {_detail(exc)}")
        if prepared is None:
            return upstream
        self._say(target, interpreter, "upstream: the index's toolchain")
        try:
            return match_toolchain(self, prepared, build, upstream)
        except Exception as exc:  # nor may the matching rebuild's
            return replace(upstream, note=f"{upstream.note}; the matching rebuild failed: tracker error: {_detail(exc)}")

    def strict(self, prepared: Prepared, draft: Draft, builds: tuple[Build, ...]) -> Result:
        """The reproducible result with the variation search added (see pipeline.vary)."""
        target, interpreter = prepared.target, prepared.interpreter
        fields = dict(environment=prepared.environment, upstream=self.upstream(target, interpreter, builds[0], prepared))

        def build_one(settings: BuildSettings, label: str) -> tuple[Build, str]:
            self._say(target, interpreter, f"{label}: {', '.join(settings.variations)}")
            return self.rebuild(prepared, label, settings)

        try:
            outcome = vary.run_variations(builds[0], prepared.controlled(), self.machine(), build_one,
                                          lambda a, b: compare_wheels(a, b).differences)
        except Exception as exc:  # the controlled verdict stands; only the strict check could not run
            return draft.finish("reproducible", builds=builds, variations={n: "not-tested" for n in VARIATIONS},
                                message=f"variation search failed: {_detail(exc)}", **fields)
        return draft.finish("reproducible", builds=builds + outcome.builds, variations=outcome.variations,
                            sensitive_to=outcome.sensitive_to, variation_differences=outcome.differences,
                            message=outcome.message, **fields)

    def agree(self, results: Sequence[Result]) -> list[Result]:
        """The results with each release's agreement across the interpreters just checked; when its pure
        wheel differs between them, the kept wheels are compared member by member."""
        by_release: dict[tuple[str, str], list[Result]] = {}
        for result in results:
            by_release.setdefault((result.name, result.version), []).append(result)
        found: dict[tuple[str, str], Agreement | None] = {}
        for key, members in by_release.items():
            outcome = agreement(members)
            if outcome is not None and outcome.status == "differs":
                differences = self._members(outcome, members)
                outcome = dataclasses.replace(outcome, differences=differences,
                                              reasons=named_by(outcome.reasons, differences))
            found[key] = outcome
        return [dataclasses.replace(r, agreement=found[(r.name, r.version)]) for r in results]

    def _members(self, outcome: Agreement, results: Sequence[Result]) -> tuple[Difference, ...]:
        """How each other group's wheel differs from the first group's (the kept wheels, read as data)."""
        path = {r.interpreter: r.builds[0].path for r in results if r.builds}
        (_, first), *others = groups(outcome)
        found: list[Difference] = []
        for _, tags in others:
            a, b = path.get(first[0]), path.get(tags[0])
            if not a or not b:
                continue
            try:
                differences = compare_wheels(Path(a), Path(b)).differences
            except PipelineError:
                continue  # a kept wheel gone since: the lock reasons still stand
            found += [dataclasses.replace(d, detail=f"{first[0]} vs {tags[0]}: {d.detail}".rstrip(": "))
                      for d in differences]
        return tuple(found)

    def machine(self) -> vary.Machine:
        """What this machine can vary, probed on first use (a locale may be compiled once)."""
        with self._machine_lock:
            if self._machine is None:
                self._machine = vary.probe_machine(self.workspace.out / "cache" / "locales", self.backend.isolated,
                                                   self.workspace.out / "cache" / "clock")
            return self._machine

    def second_clock(self) -> tuple[sandbox.Mount, ...]:
        """What moves the second build's clock ahead (empty when no C compiler can make the library);
        made once per ``--out``, in the background from the first check on, while environments are made."""
        library = self._clock_library().result()
        return clock.mounts(library) if library else ()

    def _clock_library(self) -> Future:
        with self._machine_lock:
            if self._clock is None:
                self._clock = _BACKGROUND.submit(clock.compiled, self.workspace.out / "cache" / "clock", CLOCK_SHIFT)
            return self._clock

    def _sandbox_name(self) -> str:
        if not self.backend.isolated:
            return "none"
        return sandbox.bubblewrap_version() or "bubblewrap"

    def _say(self, target: Target, interpreter: Interpreter, phase: str) -> None:
        self.progress(Phase(target.name, target.version, interpreter.tag, phase))
