"""The scheduler: retries of errors, one failure never stops the run, the live view."""

from __future__ import annotations

from pipeline.engine.net import Retry
from pipeline.nightly.run import run_nightly
from tests.fake_engine import FakeEngine
from tests.nightly.runs import entries, options, stored


def test_build_errors_are_retried_in_the_run(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"]}, check_failures={"alpha": 1})
    summary = run_nightly(fake.engine(), options(tmp_path, retry=Retry(attempts=3, backoff=0.0)), entries("alpha"))
    assert [r.status for r in summary.built] == ["reproducible"]
    assert [r.status for r in stored(tmp_path)] == ["error", "reproducible"]


def test_one_failing_build_does_not_stop_the_run(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"], "beta": ["1.0"]}, check_failures={"alpha": 99})
    summary = run_nightly(fake.engine(), options(tmp_path, retry=Retry(attempts=2, backoff=0.0)), entries("alpha", "beta"))
    assert summary.counts == {"error": 1, "reproducible": 1}


def test_progress_reports_done_total_running_and_eta(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"], "beta": ["1.0"]}, seconds={"alpha": 0.2, "beta": 0.2}, sleep=True)
    events = []
    run_nightly(fake.engine(), options(tmp_path, jobs=1), entries("alpha", "beta"), reporter=events.append)
    finishes = [e for e in events if e.event == "finish"]
    assert [(e.done, e.total) for e in finishes] == [(1, 2), (2, 2)]
    assert any(e.event == "tick" and e.running and e.running[0][1] > 0 for e in events)
    assert "[1/2]" in finishes[0].line()
