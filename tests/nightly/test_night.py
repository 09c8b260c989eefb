"""Whole nights of the GitHub workflow, run here through its own steps (tests/nightly/workflow_runner.py):
3 shards x 2 interpreters against a local bare repository, with FakeEngine's builds.

Why a fake build: the subject is the night (the workflow's glue, the history, folding, merging,
appending, publishing, failing); each real build is tested in tests/engine.  Everything else runs
as the workflow runs it: bash, the commands behind the nox sessions, git, the site renderer.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from pipeline.nightly.plan import shard_of
from tests.nightly.workflow_runner import Night, Workflow

# No wheel is built, but six nights of 13 processes each take about 13 s on two cores: more than
# the fast tier can spend.  The same logic is tested in-process in test_publish.py and test_history.py.
pytestmark = pytest.mark.slow

#: two projects in each of the three shards
NAMES = [
    name
    for shard in (1, 2, 3)
    for name in [n for n in (f"proj-{c}" for c in "abcdefghijklmnopqrstuvwxyz") if shard_of(n, 3) == shard][:2]
]
INDEX = {name: ["1.0"] for name in NAMES}
UNREPRODUCIBLE = NAMES[1]


def fake(day: str, index: dict = INDEX) -> dict:
    return {
        "index": index,
        "pythons": ["3.11", "3.12"],
        "verdicts": [[UNREPRODUCIBLE, "1.0", "unreproducible"]],
        "finished": f"{day}T02:40:00+00:00",
    }


def cells(shard: int, python: str, index: dict = INDEX) -> list[tuple[str, str, str]]:
    tag = "cp" + python.replace(".", "")
    return sorted((name, versions[-1], tag) for name, versions in index.items() if shard_of(name, 3) == shard)


def job(night: Night, shard: int, python: str):
    return next(j for j in night.shards if j.folder.name == f"shard{shard}-py{python}")


def branch(workflow: Workflow, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=workflow.remote, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def history_file(workflow: Workflow, month: str) -> str:
    return branch(workflow, "show", f"nightly-data:history/{month}.jsonl")


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_nights_of_the_workflow_keep_every_result_and_stop_when_the_history_cannot_be_read(tmp_path):
    workflow = Workflow(tmp_path, lists="\n".join(NAMES) + "\n")
    assert sorted(len(cells(s, "3.12")) for s in (1, 2, 3)) == [2, 2, 2]

    # Before any history exists, a night that does not say it is the first builds nothing.
    night = workflow.night(0, fake("2026-04-29"))
    for shard_job in night.shards:
        failed = shard_job.failure()
        assert failed and failed.name.startswith("Fold in the history") and failed.returncode == 2
        assert "the first run must say so" in failed.output and shard_job.checks() == []
    assert not night.publish.ok and not night.deployed and branch(workflow, "rev-parse", "nightly-data") == ""

    # Night 1, the first run: one shard's runner is lost halfway; the others are published.
    workflow.variables["NIGHTLY_FIRST_RUN"] = "true"
    night = workflow.night(1, fake("2026-04-30"), dying={(2, "3.12"): 1})
    lost = job(night, 2, "3.12")
    assert lost.failure().name == "Build this shard" and lost.failure().returncode == 137
    assert not (workflow.base / "night1" / "artifacts" / "results-shard2-py3.12").exists()
    for shard in (1, 2, 3):
        for python in ("3.11", "3.12"):
            if (shard, python) != (2, "3.12"):
                assert job(night, shard, python).ok and sorted(job(night, shard, python).checks()) == cells(shard, python)
    assert night.publish.ok and night.deployed, night.publish.steps[-1].output
    april = history_file(workflow, "2026-04")
    assert len(april.splitlines()) == 10
    index = json.loads((workflow.deployed / "history" / "index.json").read_text())
    assert index["rows"] == 10 and index["commit"] == branch(workflow, "rev-parse", "nightly-data")
    assert "Download the whole history" in (workflow.deployed / "api.html").read_text()
    results = json.loads((workflow.deployed / "api" / "results.json").read_text())["results"]
    assert len(results) == 10
    assert {r["status"] for r in results if r["name"] == UNREPRODUCIBLE} == {"unreproducible"}

    # Night 2: all runners healthy; only what the lost runner did not deliver is built.
    del workflow.variables["NIGHTLY_FIRST_RUN"]
    night = workflow.night(2, fake("2026-05-01"))
    for shard in (1, 2, 3):
        for python in ("3.11", "3.12"):
            built = job(night, shard, python).checks()
            assert job(night, shard, python).ok and sorted(built) == (cells(2, "3.12") if (shard, python) == (2, "3.12") else [])
    assert night.publish.ok and night.deployed
    assert history_file(workflow, "2026-04") == april  # appended to, never rewritten
    assert len(history_file(workflow, "2026-05").splitlines()) == 2
    assert branch(workflow, "rev-list", "--count", "nightly-data") == "2"
    after_two = branch(workflow, "rev-parse", "nightly-data")
    site_two = tree_digest(workflow.deployed)

    # Night 3: nothing new anywhere: nothing is built, nothing is committed, the site is the same.
    night = workflow.night(3, fake("2026-05-02"))
    assert all(j.ok and j.checks() == [] for j in night.shards) and night.publish.ok and night.deployed
    assert "nothing new to append" in night.publish.steps[-1].output
    assert branch(workflow, "rev-parse", "nightly-data") == after_two
    assert tree_digest(workflow.deployed) == site_two

    # Night 4: a new release is out, but the history cannot be fetched: every job fails, nothing
    # is built from scratch, nothing is pushed, the deployed site stays.
    newer = dict(INDEX, **{NAMES[0]: ["1.0", "1.1"]})
    away = workflow.remote.with_name("moved.git")
    workflow.remote.rename(away)
    night = workflow.night(4, fake("2026-05-03", newer))
    away.rename(workflow.remote)
    for shard_job in night.shards:
        failed = shard_job.failure()
        assert failed and failed.name.startswith("Fold in the history") and failed.returncode == 2
        assert "does not appear to be a git repository" in failed.output and shard_job.checks() == []
    assert not night.publish.ok and "publish: error: history 'nightly-data'" in night.publish.failure().output
    assert not night.deployed and tree_digest(workflow.deployed) == site_two
    assert branch(workflow, "rev-parse", "nightly-data") == after_two

    # Night 5: the history is back; the new release is built, and every earlier result is kept.
    night = workflow.night(5, fake("2026-05-04", newer))
    new_cells = {(NAMES[0], "1.1", "cp311"), (NAMES[0], "1.1", "cp312")}
    assert {c for j in night.shards for c in j.checks()} == new_cells
    assert night.publish.ok and night.deployed
    assert history_file(workflow, "2026-04") == april
    assert len(history_file(workflow, "2026-05").splitlines()) == 4
    index = json.loads((workflow.deployed / "history" / "index.json").read_text())
    assert index["rows"] == 14 and branch(workflow, "rev-list", "--count", "nightly-data") == "3"
