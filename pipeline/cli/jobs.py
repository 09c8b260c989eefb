"""Run checks on worker threads: results in order, each kept as it ends, and a clean stop on Ctrl-C."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Generic, Sequence, TypeVar

from .interrupt import stop_children

J = TypeVar("J")
R = TypeVar("R")

#: how long an interrupted run waits for its killed builds' threads to unwind
STOP_GRACE = 60.0
#: how often the main thread looks up from waiting (to notice Ctrl-C)
POLL = 0.2


class Runner(Generic[J, R]):
    """``work`` on each job, ``workers`` at a time; ``done`` sees each result as it ends (from a worker).

    ``failed`` turns an exception ``work`` raised into a result, so one bad job never stops the
    others.  On KeyboardInterrupt no new job starts, the running builds are killed, results that
    end after the interrupt are dropped (a killed build is no verdict), and the interrupt goes on.
    """

    def __init__(self, work: Callable[[J], R], failed: Callable[[J, Exception], R],
                 done: Callable[[J, R], None], workers: int) -> None:
        self.work, self.failed, self.done = work, failed, done
        self.workers = max(1, workers)
        self.stopping = threading.Event()

    def _one(self, job: J) -> R | None:
        if self.stopping.is_set():
            return None
        try:
            result = self.work(job)
        except KeyboardInterrupt:  # a helper ended by the interrupt: the whole run stops (see run)
            self.stopping.set()
            raise
        except Exception as error:  # a tracker bug on one job must not cost the others
            result = self.failed(job, error)
        if self.stopping.is_set():
            return None
        self.done(job, result)
        return result

    def run(self, jobs: Sequence[J]) -> list[R]:
        pool = ThreadPoolExecutor(max_workers=self.workers)
        futures = [pool.submit(self._one, job) for job in jobs]
        try:
            pending = set(futures)
            while pending:
                # a process-wide signal may go to any thread; only a main thread that wakes up now
                # and then runs Python code to notice it (a blocked wait would sleep through Ctrl-C)
                finished, pending = wait(pending, timeout=POLL, return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), KeyboardInterrupt) for f in finished if not f.cancelled()):
                    raise KeyboardInterrupt("a job was interrupted")
        except KeyboardInterrupt:
            self.stop(futures)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return [result for result in (future.result() for future in futures) if result is not None]

    def stop(self, futures: list[Future]) -> None:
        self.stopping.set()
        for future in futures:
            future.cancel()
        try:  # a second Ctrl-C must not cut the clean-up short
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            previous = None
        try:
            deadline = time.monotonic() + STOP_GRACE
            running = [future for future in futures if not future.done()]
            while running and time.monotonic() < deadline:
                stop_children()
                wait(running, timeout=0.2)
                running = [future for future in running if not future.done()]
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
