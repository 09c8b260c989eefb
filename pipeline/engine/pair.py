"""The two controlled builds: at once, each in its own sandbox and folder, the second with its clock ahead.

The original tracker built twice in a row, so the second build's clock was later by the first
build's length: a wheel that embeds the time (a version stamp, zip dates from the clock) came out
different.  Builds run at once would read the same clock, so the second one sees it moved forward
by :data:`CLOCK_SHIFT` (the tracker's own clock library, see :mod:`.clock`): over an hour, in seconds, minutes and hours, so anything read
from the clock at up to an hour's resolution differs for certain (a row of builds catches it only
when one crosses that boundary), while dates (day resolution) differ only near midnight, as in a row.
File times the kernel stamps are not shifted: a backend that copies the mtimes of files it
generated into zip dates, ignoring SOURCE_DATE_EPOCH, is caught only by ``--sequential``.

When the machine lacks the CPUs, the memory or a C compiler for the clock library, or ``--sequential`` is given, the
builds run in a row as before.  A build that times out or runs out of memory is built again
alone (no other build of any check running) before that becomes a verdict; a second build that
fails only under the shifted clock is built again in a row, without it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

from ..records import Build
from .build import BuildSettings
from .sandbox import GiB, Limits, Mount

CLOCK_SHIFT = 3723  # seconds: 1 h 2 min 3 s, so the second, minute and hour all differ
PAIR_MEMORY = 2 * GiB  # free memory each build of a pair at once should have
GATE = Path("/tmp/wheelrepro")

Rebuild = Callable[[int, BuildSettings], tuple[Build, str]]


@dataclass(frozen=True)
class PairPlan:
    parallel: bool
    clock: tuple[Mount, ...]  # what shows the second build its clock ahead (see clock.mounts)
    note: str  # for the record: how the pair was built

    def second(self, settings: BuildSettings) -> BuildSettings:
        if not self.parallel:
            return settings
        return replace(settings, mounts=settings.mounts + self.clock)


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def plan_pair(sequential: bool, limits: Limits, clock: tuple[Mount, ...], isolated: bool) -> PairPlan:
    """At once when asked for and possible; the note says which and why not."""
    in_a_row = "in a row"
    if sequential:
        return PairPlan(False, (), f"{in_a_row} (--sequential)")
    if not isolated:
        return PairPlan(False, (), f"{in_a_row} (unsandboxed: no private clock for the second build)")
    if not clock:
        return PairPlan(False, (), f"{in_a_row} (no C compiler to make the second build's clock library)")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cpus < 2:
        return PairPlan(False, (), f"{in_a_row} (one CPU)")
    if _available_memory() < 2 * min(limits.memory, PAIR_MEMORY):
        return PairPlan(False, (), f"{in_a_row} (not enough free memory for two builds)")
    return PairPlan(True, clock, f"at once; build 2's clock {CLOCK_SHIFT} s ahead")


def _resource_failure(build: Build, reason: str) -> bool:
    return build.timed_out or reason.startswith("out of memory")


def build_pair(rebuild: Rebuild, controlled: BuildSettings, plan: PairPlan, gate: Gate | None = None
               ) -> tuple[list[tuple[Build, str]], str]:
    """Both builds (or the first, when it failed in a row); the note for the record."""
    gate = gate or GATE_OF_BUILDS
    settings = {1: controlled, 2: plan.second(controlled)}
    note = plan.note
    if plan.parallel:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="pair") as pool:
            futures = {number: pool.submit(rebuild, number, settings[number]) for number in (1, 2)}
            results = {number: future.result() for number, future in futures.items()}
        if not results[1][1] and results[2][1] and not _resource_failure(*results[2]):
            results[2] = rebuild(2, controlled)  # failed only under the shifted clock? the original's way
            note = "in a row (build 2 failed with its clock ahead, and was built again without it)"
    else:
        results = {1: rebuild(1, settings[1])}
        if not results[1][1]:
            results[2] = rebuild(2, settings[2])
    for number in sorted(results):
        if _resource_failure(*results[number]):
            with gate.alone():
                results[number] = rebuild(number, settings[number])
            note += f"; build {number} ran out of time or memory and was built again alone"
            if results[number][1]:
                break
    ordered = [results[number] for number in sorted(results)]
    if ordered[0][1]:
        ordered = ordered[:1]
    return ordered, note


class Gate:
    """Builds share the gate; a build that must run alone takes it whole (across processes: flock).

    A build waits at ``shared`` while one waits at ``alone``, so a busy nightly cannot starve it; the
    thread that holds it ``alone`` passes ``shared`` freely (its own rebuild).
    """

    def __init__(self, folder: Path = GATE) -> None:
        self.folder = folder
        self._mine = threading.local()

    def _open(self, name: str):
        self.folder.mkdir(parents=True, exist_ok=True)
        return open(self.folder / name, "a")

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        if getattr(self._mine, "alone", False):
            yield
            return
        with self._open(".gate.lock") as gate, self._open(".builds.lock") as builds:
            fcntl.flock(gate, fcntl.LOCK_SH)
            fcntl.flock(builds, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
            try:
                yield
            finally:
                fcntl.flock(builds, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        with self._open(".gate.lock") as gate, self._open(".builds.lock") as builds:
            fcntl.flock(gate, fcntl.LOCK_EX)
            try:
                fcntl.flock(builds, fcntl.LOCK_EX)
                self._mine.alone = True
                try:
                    yield
                finally:
                    self._mine.alone = False
                    fcntl.flock(builds, fcntl.LOCK_UN)
            finally:
                fcntl.flock(gate, fcntl.LOCK_UN)


#: the one gate of this process (builds of every check pass it)
GATE_OF_BUILDS = Gate()
