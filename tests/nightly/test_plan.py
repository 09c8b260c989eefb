"""The planner's pure decisions: shards, what to build tonight and why."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.engine.net import Retry
from pipeline.engine.options import CheckOptions
from pipeline.errors import UsageError
from pipeline.nightly.plan import (
    Slot,
    parse_shard,
    plan_builds,
    shard_of,
)
from pipeline.nightly.run import NightlyOptions
from pipeline.nightly.store import Snapshot
from pipeline.records import Release


def options(tmp_path: Path, **kw) -> NightlyOptions:
    kw.setdefault("jobs", 2)
    kw.setdefault("retry", Retry(attempts=3, backoff=0.0))
    kw.setdefault("tick", 0.05)
    return NightlyOptions(out_dir=tmp_path / "out", check=CheckOptions(index_url="file:///index/"), **kw)


def test_shards_partition_the_list_stably():
    names = [f"project-{i}" for i in range(200)]
    first = {n: shard_of(n, 4) for n in names}
    assert set(first.values()) == {1, 2, 3, 4}
    grown = {n: shard_of(n, 4) for n in names + ["newcomer-1", "newcomer-2"]}
    assert all(grown[n] == first[n] for n in names)  # adding projects moves nobody
    assert parse_shard("3/16") == (3, 16)
    for bad in ("0/4", "5/4", "x", "1/0", "1-4"):
        with pytest.raises(UsageError):
            parse_shard(bad)


def test_empty_snapshot_plans_every_pair():
    release = Release("a", "1", None)
    plan = plan_builds([release], [Slot("cp312", "3.12.4", "b")], Snapshot.empty(), today=date(2026, 1, 1))
    assert [t.reason for t in plan.tasks] == ["new project"]


def test_the_plan_says_why_a_failure_waits_for_tomorrow():
    key = ("alpha", "1.0", "cp312", "b")
    snapshot = Snapshot({key: "build-failed"}, frozenset({key[:3]}), frozenset({key[:3]}), frozenset({("alpha", "cp312")}),
                        frozenset({"alpha"}), {}, {}, {key: "2026-01-01"})
    plan = plan_builds([Release("alpha", "1.0", None)], [Slot("cp312", "3.12.4", "b")], snapshot, today=date(2026, 1, 1))
    assert plan.tasks == () and plan.skipped[0].reason == "build-failed earlier today; retried tomorrow"
