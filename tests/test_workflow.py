"""The nightly CI workflow: pinned actions, least privilege, shards that do not cancel each other."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline.engine import environments
from pipeline.engine.interpreters import ci_pythons, today

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "nightly.yml"


def test_every_action_is_pinned_to_a_full_commit_sha():
    uses = re.findall(r"uses:\s*(\S+)", WORKFLOW.read_text())
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action


def test_permissions_are_empty_by_default_and_granted_per_job():
    text = WORKFLOW.read_text()
    assert "\npermissions: {}\n" in text
    jobs = re.split(r"\n  (?=\w[\w-]*:\n)", text.split("\njobs:\n", 1)[1])
    assert len(jobs) == 3
    for job in jobs:
        assert "    permissions:\n" in job, job.splitlines()[0]
    assert "pages: write" in jobs[2] and "id-token: write" in jobs[2]
    assert "pages: write" not in jobs[0] + jobs[1]


def test_shards_run_to_the_end_and_the_final_job_merges_renders_deploys():
    text = WORKFLOW.read_text()
    assert "fail-fast: false" in text and "workflow_dispatch" in text and "cron:" in text
    assert "--shard" in text and "nox -s merge" in text and "nox -s render" in text


def test_the_interpreter_matrix_follows_the_cpython_table_and_every_one_has_a_lock():
    line = re.search(r"\n\s+python: (\[.*\])\n", WORKFLOW.read_text()).group(1)
    wanted = ci_pythons(today())
    assert tuple(json.loads(line)) == wanted, (
        f"the CPython table says {list(wanted)} today: update the python matrix in {WORKFLOW.name}")
    for selector in wanted:
        assert environments.directory_lock(selector).is_file(), f"no toolchain lock for {selector}: nox -s lock"
