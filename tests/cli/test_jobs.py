"""The check's job runner: a bug in one job costs only that job; Ctrl-C keeps nothing made after it."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

from pipeline.cli.jobs import Runner


def test_results_come_in_order_and_a_failing_job_becomes_its_own_result():
    seen: list[int] = []
    lock = threading.Lock()

    def work(job: int) -> str:
        if job == 2:
            raise ValueError("embedded null byte")
        time.sleep(0.01 * (5 - job))
        return f"ok {job}"

    def done(job: int, result: str) -> None:
        with lock:
            seen.append(job)

    runner = Runner(work, lambda job, error: f"error {job}: {error}", done, workers=3)
    assert runner.run([1, 2, 3, 4]) == ["ok 1", "error 2: embedded null byte", "ok 3", "ok 4"]
    assert sorted(seen) == [1, 2, 3, 4]


def test_an_interrupt_keeps_nothing_that_ends_after_it():
    kept: list[int] = []
    started = threading.Event()

    def work(job: int) -> int:
        if job == 1:
            return 1
        started.set()
        # a build the interrupt finds running: it ends only once the runner is stopping, however
        # loaded the machine (as a killed build does)
        assert runner.stopping.wait(30)
        return job

    def interrupt_soon() -> None:
        started.wait(30)
        _thread.interrupt_main()  # what Ctrl-C does to the main thread

    threading.Thread(target=interrupt_soon, daemon=True).start()
    runner = Runner(work, lambda job, error: -1, lambda job, result: kept.append(job), workers=1)
    with pytest.raises(KeyboardInterrupt):
        runner.run([1, 2, 3])
    assert kept == [1], "job 2 ended after the interrupt and job 3 never started"


def test_a_job_ended_by_an_interrupt_stops_the_run_and_keeps_no_record_of_it():
    from pipeline.engine.programs import Interrupted

    kept: list[int] = []
    failed: list[int] = []

    def work(job: int) -> int:
        if job == 2:
            raise Interrupted("a helper ended by signal 2")  # the signal reached a helper first
        if job == 3:
            assert runner.stopping.wait(30), "the run stops the other running jobs"
        return job

    runner = Runner(work, lambda job, error: failed.append(job) or -1, lambda job, result: kept.append(job),
                    workers=2)
    with pytest.raises(KeyboardInterrupt):
        runner.run([1, 2, 3, 4])
    assert 2 not in kept and failed == [], "an interrupted job is neither a result nor the tracker's failure"
    assert 3 not in kept and 4 not in kept
