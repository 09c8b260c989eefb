"""The controlled pair: at once or in a row, the second build's clock, building again alone."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pipeline.engine import pair
from pipeline.engine.build import BuildSettings
from pipeline.engine.sandbox import GiB, Limits, Mount
from pipeline.records import Build

CLOCK = (Mount("/cache/clock.so", target="/opt/wheelrepro/clock.so"),)
BASE = BuildSettings(build_dir=Path("/tmp/wheelrepro/cp312/pkg-1.0"))


def _build(label, timed_out=False) -> Build:
    return Build(wheel="w", sha256="s", seconds=1.0, path="/p", log="/l", returncode=None if timed_out else 0,
                 build_dir="/b", timed_out=timed_out)


def test_the_pair_runs_in_a_row_when_asked_or_when_it_cannot_run_at_once(monkeypatch):
    monkeypatch.setattr(pair, "_available_memory", lambda: 64 * GiB)
    assert pair.plan_pair(False, Limits(), CLOCK, True).parallel
    assert "--sequential" in pair.plan_pair(True, Limits(), CLOCK, True).note
    assert "no C compiler" in pair.plan_pair(False, Limits(), (), True).note
    assert "unsandboxed" in pair.plan_pair(False, Limits(), CLOCK, False).note
    monkeypatch.setattr(pair, "_available_memory", lambda: 1 * GiB)
    assert "memory" in pair.plan_pair(False, Limits(), CLOCK, True).note


def test_at_once_the_second_build_alone_sees_the_clock_ahead(monkeypatch, tmp_path):
    monkeypatch.setattr(pair, "_available_memory", lambda: 64 * GiB)
    plan = pair.plan_pair(False, Limits(), CLOCK, True)
    seen, running = {}, []

    def rebuild(number, settings):
        running.append(number)
        time.sleep(0.2)
        seen[number] = (settings.mounts, len(running))
        return _build(number), ""

    builds, note = pair.build_pair(rebuild, BASE, plan, pair.Gate(tmp_path))
    assert len(builds) == 2 and note.startswith("at once")
    assert seen[1][0] == () and seen[2][0] == CLOCK
    assert max(count for _, count in seen.values()) == 2, "both were running at the same time"


def test_a_timeout_is_built_again_alone_before_it_counts(monkeypatch, tmp_path):
    plan = pair.PairPlan(True, CLOCK, "at once")
    calls = []

    def rebuild(number, settings):
        calls.append(number)
        first_try = calls.count(number) == 1
        return (_build(number, timed_out=True), "timed out after 1s") if number == 2 and first_try else (_build(number), "")

    builds, note = pair.build_pair(rebuild, BASE, plan, pair.Gate(tmp_path))
    assert [reason for _, reason in builds] == ["", ""] and calls.count(2) == 2
    assert "built again alone" in note


def test_a_second_build_failing_only_with_its_clock_ahead_is_built_again_without_it(tmp_path):
    plan = pair.PairPlan(True, CLOCK, "at once")

    def rebuild(number, settings):
        return (_build(number), "the build exited with 1") if settings.mounts else (_build(number), "")

    builds, note = pair.build_pair(rebuild, BASE, plan, pair.Gate(tmp_path))
    assert [reason for _, reason in builds] == ["", ""] and note.startswith("in a row")


def test_in_a_row_a_failed_first_build_is_the_only_one(tmp_path):
    calls = []

    def rebuild(number, settings):
        calls.append(number)
        return _build(number), "the build exited with 1"

    builds, _ = pair.build_pair(rebuild, BASE, pair.PairPlan(False, (), "in a row"), pair.Gate(tmp_path))
    assert calls == [1] and len(builds) == 1


def test_a_build_alone_waits_for_the_running_ones_and_holds_new_ones_back(tmp_path):
    gate, events = pair.Gate(tmp_path), []
    entered = threading.Event()

    def running():
        with gate.shared():
            entered.set()
            time.sleep(0.3)
            events.append("shared done")

    first = threading.Thread(target=running)
    first.start()
    entered.wait()
    with gate.alone():
        events.append("alone")
        with gate.shared():  # its own rebuild passes
            events.append("alone's own build")
    first.join()
    assert events == ["shared done", "alone", "alone's own build"]
