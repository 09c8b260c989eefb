"""The scheduler: retries of errors, one failure never stops the run, the live view."""

from __future__ import annotations

from pathlib import Path

from pipeline.engine.net import Retry
from pipeline.engine.options import CheckOptions
from pipeline.nightly.lists import ListEntry
from pipeline.nightly.run import NightlyOptions, run_nightly
from pipeline.nightly.store import Store
from tests.fake_engine import FakeEngine


def entries(*names: str) -> list[ListEntry]:
    out = []
    for i, spec in enumerate(names, start=1):
        name, _, version = spec.partition("==")
        out.append(ListEntry(name, version or None, f"test.txt:{i}"))
    return out


def options(tmp_path: Path, **kw) -> NightlyOptions:
    kw.setdefault("jobs", 2)
    kw.setdefault("retry", Retry(attempts=3, backoff=0.0))
    kw.setdefault("tick", 0.05)
    return NightlyOptions(out_dir=tmp_path / "out", check=CheckOptions(index_url="file:///index/"), **kw)


def stored(tmp_path: Path) -> list:
    with Store.open(tmp_path / "out") as store:
        return store.all_results()


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
