"""The nightly's two concurrent phases: resolve every listed project, then run the builds.

Both take the engine's functions as arguments, so tests drive them with fakes and real threads.
A failure is always turned into a value (an ``error`` Result or a failed :class:`Resolved`),
never allowed to stop the run.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from ..engine.net import Retry
from ..engine.options import CheckOptions
from ..engine.outcome import error_result as engine_error
from ..errors import PipelineError, ProjectNotFound, VersionNotFound
from ..records import Release, Result, utcnow
from .lists import ListEntry
from .plan import Slot, Task, eta

#: (name, version or None, index URL, interpreter versions X.Y.Z) -> the release pip picks on each
Resolve = Callable[[str, "str | None", str, "tuple[str, ...]"], Mapping[str, Release]]
Check = Callable[[Release, Slot], Result]


def describe(exc: BaseException) -> str:
    """One line for an exception: ours say what happened, anything else is a tracker bug."""
    if isinstance(exc, PipelineError):
        return str(exc)
    return f"tracker bug: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Resolved:
    """The outcome of resolving one list entry: the release pip picks on each interpreter version
    (X.Y.Z), which differ when a newer release dropped an older Python; None when it failed."""

    entry: ListEntry
    releases: Mapping[str, Release] | None
    message: str = ""
    attempts: int = 1
    unknown: bool = False


def resolve_one(entry: ListEntry, resolve: Resolve, index_url: str, retry: Retry,
                pythons: tuple[str, ...] = ()) -> Resolved:
    """Resolve with retries: network trouble and tracker bugs back off and retry; an unknown
    project or version is an answer, not a failure, so it is not retried."""
    message = ""
    for attempt in range(1, retry.attempts + 1):
        try:
            return Resolved(entry, dict(resolve(entry.name, entry.version, index_url, pythons)), attempts=attempt)
        except (ProjectNotFound, VersionNotFound) as exc:
            return Resolved(entry, None, f"{entry.source}: {exc}", attempt, unknown=True)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an error value
            message = f"{entry.source}: {describe(exc)}"
            retry.wait(attempt)
    return Resolved(entry, None, f"{message} (after {retry.attempts} attempts)", retry.attempts)


def resolve_all(
    entries: Sequence[ListEntry],
    resolve: Resolve,
    index_url: str,
    jobs: int = 8,
    retry: Retry = Retry(attempts=3),
    pythons: tuple[str, ...] = (),
) -> list[Resolved]:
    """Resolve every entry on a bounded pool (politeness towards the index), once for all the
    interpreter versions ``pythons``; input order kept."""
    if not entries:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(entries))), thread_name_prefix="resolve") as pool:
        return list(pool.map(lambda e: resolve_one(e, resolve, index_url, retry, pythons), entries))


def error_result(name: str, version: str, slot: Slot, message: str, options: CheckOptions, started: str) -> Result:
    """The record of a failure that is the tracker's or the network's, never the package's."""
    return engine_error(name, version, slot.python, slot.interpreter, message, options, started)


@dataclass(frozen=True)
class Progress:
    """One update of the live view; ``event`` is start, finish or tick."""

    event: str
    done: int
    total: int
    running: tuple[tuple[str, float], ...]
    eta: float
    task: str = ""
    status: str = ""

    def line(self) -> str:
        running = ", ".join(f"{label} {elapsed:.0f}s" for label, elapsed in self.running) or "-"
        head = f"[{self.done}/{self.total}] ETA {self.eta:.0f}s"
        if self.event == "finish":
            return f"{head}  {self.task}: {self.status}  | running: {running}"
        if self.event == "start":
            return f"{head}  started {self.task}  | running: {running}"
        return f"{head}  running: {running}"


Reporter = Callable[[Progress], None]


class Scheduler:
    """Run tasks on ``jobs`` threads in the order given (longest first), recording each attempt
    the moment it ends, so a kill loses at most the builds in flight."""

    def __init__(
        self,
        check: Check,
        record: Callable[[Task, Result], None],
        jobs: int,
        reporter: Reporter | None = None,
        retry: Retry = Retry(attempts=3),
        tick: float = 5.0,
        options: CheckOptions = CheckOptions(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.check = check
        self.record = record
        self.jobs = max(1, jobs)
        self.reporter = reporter
        self.retry = retry
        self.tick = tick
        self.options = options
        self.clock = clock
        self._lock = threading.Lock()
        self._running: dict[int, tuple[Task, float]] = {}
        self._done = 0
        self._queued: list[float] = []
        self._total = 0

    def _build(self, number: int, task: Task) -> Result:
        """All attempts of one task; an ``error`` outcome is retried with backoff, a verdict is final."""
        with self._lock:
            self._queued.remove(task.estimate)
            self._running[number] = (task, self.clock())
        self._emit("start", task.label)
        result: Result | None = None
        for attempt in range(1, self.retry.attempts + 1):
            started = utcnow()
            try:
                result = self.check(task.release, task.slot)
            except Exception as exc:  # noqa: BLE001 - one build's failure never stops the run
                result = error_result(
                    task.release.name, task.release.version, task.slot, describe(exc), self.options, started
                )
            self.record(task, result)
            if result.status != "error":
                break
            self.retry.wait(attempt)
        assert result is not None
        with self._lock:
            del self._running[number]
            self._done += 1
        self._emit("finish", task.label, result.status)
        return result

    def _emit(self, event: str, task: str = "", status: str = "") -> None:
        if self.reporter is None:
            return
        now = self.clock()
        with self._lock:
            running = [(t, now - since) for t, since in self._running.values()]
            snapshot = Progress(
                event=event,
                done=self._done,
                total=self._total,
                running=tuple((t.label, elapsed) for t, elapsed in running),
                eta=eta(self._queued, [(t.estimate, elapsed) for t, elapsed in running], self.jobs),
                task=task,
                status=status,
            )
        self.reporter(snapshot)

    def run(self, tasks: Sequence[Task]) -> list[Result]:
        """Every task's final result, in the order given."""
        self._total = len(tasks)
        self._queued = [t.estimate for t in tasks]
        if not tasks:
            return []
        # The pool starts work in submission order, so submitting longest-first schedules it so.
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="build") as pool:
            futures: list[Future[Result]] = [pool.submit(self._build, i, t) for i, t in enumerate(tasks)]
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=self.tick, return_when=FIRST_COMPLETED)
                if not finished:
                    self._emit("tick")
        return [f.result() for f in futures]
