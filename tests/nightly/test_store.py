"""The results store: every attempt kept, queries, crash safety, the run lock, export/merge."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.errors import PipelineError, StoreBusy
from pipeline.nightly.store import RunLock, Store, read_export
from pipeline.records import Build, Environment, Result

ROOT = Path(__file__).resolve().parents[2]


def result(name="alpha", version="1.0", interpreter="cp312", status="reproducible", finished="2026-01-01T02:00:00+00:00",
           base="base-312", seconds=2.0) -> Result:
    env = Environment("fp", base, "3.12.4", interpreter, ("pip==25",), (), "/env")
    builds = tuple(Build("w.whl", "ab" * 32, seconds / 2, None, None, 0, "/b") for _ in range(2))
    return Result(name, version, "3.12.4", interpreter, status, finished, finished, "nox -s check -- x",  # type: ignore[arg-type]
                  environment=env, builds=builds if status != "error" else ())


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path) as opened:
        yield opened


def test_every_attempt_is_kept(store):
    assert store.add(result(status="unreproducible", finished="2026-01-01T02:00:00+00:00"))
    assert store.add(result(status="reproducible", finished="2026-01-02T02:00:00+00:00"))
    assert [r.status for r in store.all_results()] == ["unreproducible", "reproducible"]
    assert store.count() == 2


def test_the_same_row_twice_is_one_row(store):
    assert store.add(result())
    assert not store.add(result())
    assert store.count() == 1


def test_latest_verdict_per_project_and_interpreter_ignores_errors(store):
    store.add(result(status="unreproducible", finished="2026-01-01T02:00:00+00:00"))
    store.add(result(status="reproducible", finished="2026-01-02T02:00:00+00:00"))
    store.add(result(status="error", finished="2026-01-03T02:00:00+00:00"))
    store.add(result(interpreter="cp311", status="build-failed"))
    assert store.latest_statuses() == {("alpha", "cp312"): ("1.0", "reproducible"),
                                       ("alpha", "cp311"): ("1.0", "build-failed")}


def test_verdict_is_per_environment_base(store):
    store.add(result(status="error"))
    assert store.snapshot().verdicts == {}
    store.add(result(status="reproducible"))
    assert store.snapshot().verdicts == {("alpha", "1.0", "cp312", "base-312"): "reproducible"}


def test_failure_streak_counts_nights_and_stops_at_another_verdict(store):
    for day, status in (("01", "build-failed"), ("02", "reproducible"), ("03", "build-failed"),
                        ("04", "build-failed"), ("04", "error"), ("05", "build-failed")):
        store.add(result(status=status, finished=f"2026-01-{day}T02:00:00+00:00"))
    streak = store.snapshot().streaks[("alpha", "1.0", "cp312", "base-312")]
    assert (streak.status, streak.nights, streak.last) == ("build-failed", 3, "2026-01-05")


def test_snapshot_durations_and_attempts(store):
    store.add(result(seconds=8.0))
    store.add(result(name="beta", status="error"))
    snap = store.snapshot()
    assert snap.durations == {("alpha", "cp312"): 8.0}
    assert ("beta", "1.0", "cp312") in snap.releases and ("beta", "1.0", "cp312") not in snap.judged


def test_export_then_merge_is_idempotent(tmp_path, store):
    store.add(result(name="alpha"))
    first = store.last_id()
    store.add(result(name="beta"))
    whole = store.export(tmp_path / "x", "all")
    since = store.export(tmp_path / "x", "all", since_id=first)
    assert whole != since and whole.name.startswith("results-all-")
    assert [row["result"]["name"] for row in read_export(since)] == ["beta"]
    with Store.open(tmp_path / "other") as other:
        assert other.merge([whole, since]) == 2
        assert other.merge([whole, since]) == 0
        assert [r.to_json() for r in other.all_results()] == [r.to_json() for r in store.all_results()]


def test_merge_refuses_a_file_that_is_not_an_export(tmp_path, store):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": []}))
    with pytest.raises(PipelineError, match="is not a results export"):
        store.merge([bad])
    with pytest.raises(PipelineError, match="cannot read results file"):
        store.merge([tmp_path / "missing.json"])


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    (tmp_path / "results.sqlite").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(PipelineError, match="is not a results store"):
        Store.open(tmp_path)


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from tests.nightly.test_store import result
    from pipeline.nightly.store import Store
    store = Store.open(Path(sys.argv[1]))
    i = 0
    while True:
        store.add(result(name=f"p{i}", finished=f"2026-01-01T02:00:{i % 60:02d}+00:00"))
        print(i, flush=True)  # printed only after the commit returned
        i += 1
    """
)


def test_kill_9_while_writing_loses_nothing_committed(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), str(ROOT / "tests")], stdout=subprocess.PIPE, text=True, env=env
    )
    acknowledged = -1
    deadline = time.monotonic() + 20
    assert child.stdout is not None
    while acknowledged < 40 and time.monotonic() < deadline:
        acknowledged = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert acknowledged >= 40
    with Store.open(tmp_path) as reopened:
        names = {r.name for r in reopened.all_results()}
    assert {f"p{i}" for i in range(acknowledged + 1)} <= names
    database = sqlite3.connect(tmp_path / "results.sqlite")
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_second_run_on_the_same_out_refuses_with_one_line(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pipeline.nightly.store import RunLock\n"
         "with RunLock(sys.argv[1]):\n    print('held', flush=True); time.sleep(30)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusy) as caught:
            with RunLock(tmp_path):
                pass
        message = str(caught.value)
        assert "\n" not in message and f"pid {holder.pid}" in message and "--wait" in message
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path):  # the kernel dropped the dead holder's lock
        pass


def test_wait_blocks_until_the_holder_is_done(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pipeline.nightly.store import RunLock\n"
         "with RunLock(sys.argv[1]):\n    print('held', flush=True); time.sleep(0.5)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    start = time.monotonic()
    with RunLock(tmp_path, wait=True):
        waited = time.monotonic() - start
    holder.wait()
    assert waited > 0.2


def test_times_in_different_notations_sort_as_times(store):
    store.add(result(status="unreproducible", finished="2026-01-01T03:00:00+01:00"))  # 02:00 UTC
    store.add(result(status="reproducible", finished="2026-01-01T02:30:00Z"))
    store.add(result(interpreter="cp311", status="build-failed", finished="2026-01-01T23:30:00-02:00"))  # next day UTC
    assert [r.status for r in store.all_results()] == ["unreproducible", "reproducible", "build-failed"]
    assert store.snapshot().streaks[("alpha", "1.0", "cp311", "base-312")].last == "2026-01-02"
