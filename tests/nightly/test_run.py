"""The nightly with a fake engine: incremental, retries, errors, waits, shards, ordering."""

from __future__ import annotations

import multiprocessing
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.cli.nightly import main_merge
from pipeline.engine.net import Retry
from pipeline.engine.options import CheckOptions
from pipeline.errors import StoreBusy
from pipeline.nightly.plan import (
    Slot,
    Task,
    longest_first,
    plan_builds,
)
from pipeline.nightly.run import NightlyOptions, run_nightly
from pipeline.nightly.store import RunLock, Store
from pipeline.records import Release
from tests.fake_engine import FakeEngine
from tests.nightly.runs import entries, options, stored


def night(fake: FakeEngine, tmp_path: Path, day: str) -> list:
    fake.finished = f"{day}T02:00:00+00:00"
    fake.check_calls.clear()
    summary = run_nightly(fake.engine(), options(tmp_path, today=date.fromisoformat(day)), entries("alpha"))
    return [fake.check_calls, summary]


def task(name: str, seconds: float) -> Task:
    return Task(Release(name, "1", None), Slot("cp312", "3.12.4", "b"), "new project", seconds)


INDEX = {f"pkg-{i}": ["1.0"] for i in range(12)} | {"broken": ["0.1"]}


VERDICTS = {("broken", "0.1"): "unreproducible"}


def _run_shard(out: str, shard: tuple[int, int] | None, export: str | None) -> None:
    fake = FakeEngine(dict(INDEX), pythons=("3.11", "3.12"), verdicts=VERDICTS, finished="2026-05-01T02:00:00+00:00")
    opts = NightlyOptions(out_dir=Path(out), jobs=2, shard=shard, check=CheckOptions(index_url="file:///i/"),
                          retry=Retry(attempts=3, backoff=0.0),
                          export_dir=Path(export) if export else None)
    run_nightly(fake.engine(), opts, entries(*sorted(INDEX)))


def test_first_run_builds_every_project_on_every_interpreter(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"], "beta": ["2.0"]}, pythons=("3.11", "3.12"))
    summary = run_nightly(fake.engine(), options(tmp_path), entries("alpha", "beta"))
    assert sorted(fake.check_calls) == [
        ("alpha", "1.0", "cp311"), ("alpha", "1.0", "cp312"), ("beta", "2.0", "cp311"), ("beta", "2.0", "cp312"),
    ]
    assert summary.counts == {"reproducible": 4}
    assert len(stored(tmp_path)) == 4


def test_second_run_rebuilds_nothing(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"], "beta": ["2.0"]})
    run_nightly(fake.engine(), options(tmp_path), entries("alpha", "beta"))
    fake.check_calls.clear()
    summary = run_nightly(fake.engine(), options(tmp_path), entries("alpha", "beta"))
    assert fake.check_calls == []
    assert {s.reason for s in summary.skipped} == {"already reproducible"}
    assert len(stored(tmp_path)) == 2


def test_new_version_new_interpreter_and_new_environment_trigger_builds(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"], "beta": ["2.0"], "gamma": ["3.0"]})
    run_nightly(fake.engine(), options(tmp_path), entries("alpha", "beta", "gamma"))
    fake.check_calls.clear()
    fake.index["alpha"].append("1.1")  # a new release
    fake.pythons = ("3.12", "3.13")  # a new interpreter
    fake.bases["cp312"] = "base-312-new-lock"  # the 3.12 toolchain lock changed
    run_nightly(fake.engine(), options(tmp_path), entries("alpha", "beta", "gamma"))
    assert sorted(fake.check_calls) == [
        ("alpha", "1.1", "cp312"), ("alpha", "1.1", "cp313"),
        ("beta", "2.0", "cp312"), ("beta", "2.0", "cp313"),
        ("gamma", "3.0", "cp312"), ("gamma", "3.0", "cp313"),
    ]


def test_reasons_say_why(tmp_path):
    fake = FakeEngine({"alpha": ["1.0", "1.1"]}, pythons=("3.12",))
    with Store.open(tmp_path / "out") as store:
        store.add(fake.check(fake.release("alpha", "1.0"), fake._slot("3.12")), base="base-312")
        snapshot = store.snapshot()
    release = fake.resolve("alpha", None, "")["3.12.4"]
    plan = plan_builds([release], [fake._slot("3.12"), Slot("cp313", "3.13.0", "base-313")], snapshot, today=date(2026, 1, 1))
    assert [(t.slot.interpreter, t.reason) for t in plan.tasks] == [("cp312", "new release"), ("cp313", "new interpreter")]


def test_force_rebuilds_everything(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"]})
    run_nightly(fake.engine(), options(tmp_path), entries("alpha"))
    summary = run_nightly(fake.engine(), options(tmp_path, force=True), entries("alpha"))
    assert len(fake.check_calls) == 2
    assert [r.status for r in summary.built] == ["reproducible"]


def test_index_failing_twice_then_working_is_retried_without_error_rows(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"]}, resolve_failures={"alpha": 2})
    summary = run_nightly(fake.engine(), options(tmp_path, retry=Retry(attempts=3, backoff=0.0)), entries("alpha"))
    assert fake.resolve_calls == ["alpha", "alpha", "alpha"]
    assert [r.status for r in stored(tmp_path)] == ["reproducible"]
    assert summary.unresolved == ()


def test_index_down_all_night_records_errors_never_verdicts_and_retries_next_night(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"], "beta": ["1.0"]}, resolve_failures={"alpha": 3})
    summary = run_nightly(fake.engine(), options(tmp_path, retry=Retry(attempts=3, backoff=0.0)), entries("alpha", "beta"))
    assert summary.unresolved and "503" in summary.unresolved[0] and "after 3 attempts" in summary.unresolved[0]
    with Store.open(tmp_path / "out") as store:
        assert "alpha" not in {name for name, _ in store.latest_statuses()}
        assert [r.status for r in store.all_results() if r.name == "alpha"] == ["error"]
    run_nightly(fake.engine(), options(tmp_path), entries("alpha", "beta"))
    assert ("alpha", "1.0", "cp312") in fake.check_calls


def test_unknown_project_is_reported_and_the_run_continues(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"]})
    summary = run_nightly(fake.engine(), options(tmp_path), entries("no-such-project", "alpha"))
    assert summary.unknown == ("test.txt:1: no project named 'no-such-project' on file:///index/",)
    assert fake.resolve_calls.count("no-such-project") == 1  # an answer, not a failure: no retry
    assert ("alpha", "1.0", "cp312") in fake.check_calls
    with Store.open(tmp_path / "out") as store:
        assert list(store.latest_statuses()) == [("alpha", "cp312")]


def test_three_nights_of_build_failure_wait_a_week(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"]}, verdicts={("alpha", "1.0"): "build-failed"})
    for day in ("2026-03-01", "2026-03-02", "2026-03-03"):
        calls, _ = night(fake, tmp_path, day)
        assert calls == [("alpha", "1.0", "cp312")], day
    calls, summary = night(fake, tmp_path, "2026-03-04")
    assert calls == []
    assert "waiting a week, next try 2026-03-10" in summary.waiting[0].reason
    assert any("waiting" in line for line in summary.lines())
    calls, _ = night(fake, tmp_path, "2026-03-09")
    assert calls == []
    calls, _ = night(fake, tmp_path, "2026-03-10")
    assert calls == [("alpha", "1.0", "cp312")]


def test_two_failures_on_one_night_count_once(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"]}, verdicts={("alpha", "1.0"): "build-failed"})
    for day in ("2026-03-01", "2026-03-01", "2026-03-02"):
        night(fake, tmp_path, day)
    calls, _ = night(fake, tmp_path, "2026-03-03")
    assert calls == [("alpha", "1.0", "cp312")]


def test_longest_first_from_past_durations(tmp_path):
    fake = FakeEngine({"quick": ["1"], "slow": ["1"], "medium": ["1"]}, seconds={"quick": 1, "slow": 30, "medium": 5})
    run_nightly(fake.engine(), options(tmp_path), entries("quick", "slow", "medium"))
    fake.index = {n: ["2"] for n in fake.index}
    fake.check_calls.clear()
    run_nightly(fake.engine(), options(tmp_path, jobs=1), entries("quick", "slow", "medium"))
    assert [c[0] for c in fake.check_calls] == ["slow", "medium", "quick"]
    assert [t.release.name for t in longest_first([task("a", 1), task("b", 3), task("c", 2)])] == ["b", "c", "a"]


def test_render_hook_gets_every_result(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"]})
    seen = []
    summary = run_nightly(fake.engine(), options(tmp_path), entries("alpha"), render=lambda r, d: seen.append((len(r), d)))
    assert seen == [(1, tmp_path / "out" / "site")] and summary.rendered


def test_second_concurrent_run_refuses(tmp_path):
    fake = FakeEngine({"alpha": ["1.0"]})
    with RunLock(tmp_path / "out"):
        with pytest.raises(StoreBusy, match="--wait"):
            run_nightly(fake.engine(), options(tmp_path), entries("alpha"))


def test_shards_in_separate_processes_merge_to_the_single_run(tmp_path):
    context = multiprocessing.get_context("fork")
    shards = [
        context.Process(target=_run_shard, args=(str(tmp_path / f"out{k}"), (k, 3), str(tmp_path / "exports")))
        for k in (1, 2, 3)
    ]
    for process in shards:
        process.start()
    for process in shards:
        process.join(60)
        assert process.exitcode == 0
    _run_shard(str(tmp_path / "single"), None, None)
    exports = sorted((tmp_path / "exports").glob("*.json"))
    assert len(exports) == 3
    assert main_merge(["--out", str(tmp_path / "merged"), str(tmp_path / "exports")]) == 0
    assert main_merge(["--out", str(tmp_path / "merged"), *map(str, exports)]) == 0  # twice: adds nothing
    with Store.open(tmp_path / "merged") as merged, Store.open(tmp_path / "single") as single:
        assert merged.count() == single.count() == 26
        as_json = lambda store: sorted(repr(r.to_json()) for r in store.all_results())  # noqa: E731
        assert as_json(merged) == as_json(single)
        assert merged.latest_statuses() == single.latest_statuses()


def test_a_second_run_the_same_day_rebuilds_nothing_not_even_failures(tmp_path):
    today = datetime.now(timezone.utc).date()  # errors are stamped with the real clock
    fake = FakeEngine({"alpha": ["1.0"], "beta": ["1.0"], "gamma": ["1.0"]},
                      verdicts={("alpha", "1.0"): "build-failed", ("beta", "1.0"): "timeout"},
                      check_failures={"gamma": 99})
    names = entries("alpha", "beta", "gamma")
    fake.finished = f"{today}T02:00:00+00:00"
    run_nightly(fake.engine(), options(tmp_path, retry=Retry(attempts=2, backoff=0.0), today=today), names)
    assert {call[0] for call in fake.check_calls} == {"alpha", "beta", "gamma"}

    fake.check_calls.clear()
    run_nightly(fake.engine(), options(tmp_path, today=today), names)
    assert fake.check_calls == [], "failures and errors wait for the next night"

    tomorrow = today + timedelta(days=1)
    fake.finished = f"{tomorrow}T02:00:00+00:00"
    run_nightly(fake.engine(), options(tmp_path, retry=Retry(attempts=1, backoff=0.0), today=tomorrow), names)
    assert {call[0] for call in fake.check_calls} == {"alpha", "beta", "gamma"}, "the next night tries again"


# -- Requires-Python: each interpreter gets the release pip picks, and never a build it excludes ----

#: oldnew 2.0 dropped 3.9 (3.9 keeps 1.0); newonly never supported 3.9; pinned==2.0 excludes 3.9
REQUIRES_INDEX = {"oldnew": ["1.0", "2.0"], "newonly": ["1.0"], "pinned": ["1.0", "2.0"], "everywhere": ["3.0"]}
REQUIRES = {("oldnew", "1.0"): ">=3.8", ("oldnew", "2.0"): ">=3.10", ("newonly", "1.0"): ">=3.11",
            ("pinned", "2.0"): ">=3.10"}


def requires_night(tmp_path, **kw):
    fake = FakeEngine(dict(REQUIRES_INDEX), pythons=("3.9", "3.12"), requires=dict(REQUIRES))
    summary = run_nightly(fake.engine(), options(tmp_path, **kw), entries("oldnew", "newonly", "pinned==2.0",
                                                                           "everywhere"))
    return fake, summary


def test_each_interpreter_builds_the_newest_release_it_admits_and_records_the_rest_not_applicable(tmp_path):
    fake, summary = requires_night(tmp_path)
    assert sorted(fake.check_calls) == [
        ("everywhere", "3.0", "cp312"), ("everywhere", "3.0", "cp39"),
        ("newonly", "1.0", "cp312"),
        ("oldnew", "1.0", "cp39"), ("oldnew", "2.0", "cp312"),
        ("pinned", "2.0", "cp312"),
    ], "nothing is built on an interpreter its release excludes"
    na = {(r.name, r.version, r.interpreter): r for r in summary.not_applicable}
    assert sorted(na) == [("newonly", "1.0", "cp39"), ("pinned", "2.0", "cp39")]
    record = na[("pinned", "2.0", "cp39")]
    assert record.status == "not-applicable" and record.builds == () and record.environment is None
    assert record.message == "requires Python >=3.10 (this interpreter is 3.9.18)"
    assert record.requires_python == ">=3.10"
    assert record.reproduce.startswith("wheelrepro check pinned==2.0 --python 3.9")
    assert summary.counts == {"reproducible": 6, "not-applicable": 2}
    assert "not applicable (Requires-Python excludes the interpreter; nothing built): 2 on cp39" in summary.lines()
    with Store.open(tmp_path / "out") as store:
        assert ("newonly", "cp39") not in store.latest_statuses(), "not applicable is never a verdict"


def test_not_applicable_is_recorded_once_and_never_retried_even_forced(tmp_path):
    requires_night(tmp_path)
    fake, summary = requires_night(tmp_path)
    assert fake.check_calls == [] and summary.not_applicable == ()
    assert {s.reason for s in summary.skipped if s.interpreter == "cp39" and s.name in ("newonly", "pinned")} == {
        "not applicable: requires Python >=3.11 (this interpreter is 3.9.18)",
        "not applicable: requires Python >=3.10 (this interpreter is 3.9.18)"}
    fake, summary = requires_night(tmp_path, force=True)
    assert ("newonly", "1.0", "cp39") not in fake.check_calls and summary.not_applicable == ()
    assert len([r for r in stored(tmp_path) if r.status == "not-applicable"]) == 2


def test_the_rendered_matrix_has_no_verdict_on_an_interpreter_the_release_excludes(tmp_path):
    from pipeline.site import render_site

    requires_night(tmp_path)
    site = tmp_path / "site"
    results = stored(tmp_path)
    render_site(results, site, generated=max(r.finished for r in results))
    matrix = (site / "matrix.html").read_text(encoding="utf-8")
    head = re.search(r"<thead>.*?</thead>", matrix, re.S).group(0)
    tags = re.findall(r'data-sort="(cp\d+t?)"', head)
    assert tags == ["cp39", "cp312"]
    rows = {re.search(r">([\w-]+)</a></th>", line).group(1): re.findall(r'<td class="(st-[\w-]+)', line)
            for line in matrix.splitlines() if line.startswith("<tr><th")}
    assert rows["newonly"] == ["st-not-applicable", "st-reproducible"]
    assert rows["pinned"] == ["st-not-applicable", "st-reproducible"]
    assert rows["oldnew"] == ["st-reproducible", "st-reproducible"]
    oldnew = next(line for line in matrix.splitlines() if ">oldnew</a></th>" in line)
    assert "<td>2.0</td>" in oldnew and "<small>1.0</small>" in oldnew, "cp39's cell names the older release it built"
