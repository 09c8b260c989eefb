"""The nightly workflow, checked before it ever runs: GitHub's workflow schema and zizmor's audits
(both offline, proven by running them without a network where this machine allows), pinned
actions, least privilege per job, no expression inside a script, the history's write access in
one job.  tests/nightly/test_night.py runs its steps."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.engine import environments
from pipeline.engine.interpreters import ci_pythons, today

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
BIN = Path(sys.executable).parent


def offline(command: list[str]) -> list[str]:
    """``command`` in a new network namespace when this machine can make one: a check that
    reached for the network would fail here instead of passing quietly."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n", *command]
    return command


def tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed next to {sys.executable}: environments/tests.txt pins it"
    return str(path)


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    command = [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)]
    return subprocess.run(offline(command), capture_output=True, text=True, timeout=120)


def zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    # pedantic: the strictest persona; every finding is fixed (or would be justified in a comment)
    command = [tool("zizmor"), "--offline", "--persona=pedantic", "--no-progress", str(path)]
    return subprocess.run(offline(command), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(workflow: dict):
    for job_id, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield job_id, step


def test_the_workflow_follows_githubs_schema():
    done = schema_check(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing():
    done = zizmor(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_both_checks_fail_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    text = WORKFLOW.read_text()
    broken.write_text(text.replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04", 1))
    assert schema_check(broken).returncode != 0
    injected = tmp_path / "injected.yml"
    injected.write_text(text.replace('mkdir -p shard-results', 'echo "${{ github.event.head_commit.message }}"'))
    done = zizmor(injected)
    assert done.returncode != 0 and "template-injection" in done.stdout


def test_every_action_is_pinned_to_a_full_commit_sha(workflow):
    uses = [step["uses"] for _, step in steps(workflow) if "uses" in step]
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action


def test_every_checkout_drops_its_credentials(workflow):
    checkouts = [step for _, step in steps(workflow) if step.get("uses", "").startswith("actions/checkout@")]
    assert checkouts and all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_permissions_are_empty_by_default_and_least_per_job(workflow):
    assert workflow["permissions"] == {}
    assert {job_id: job["permissions"] for job_id, job in workflow["jobs"].items()} == {
        "shard": {"contents": "read"},
        "publish": {"contents": "write"},  # the only job that can push to the data branch
        "deploy": {"pages": "write", "id-token": "write"},
    }


def test_no_expression_is_expanded_inside_a_script(workflow):
    for job_id, step in steps(workflow):
        assert "${{" not in step.get("run", ""), f"{job_id}: {step.get('name')}: pass it through env:"


def test_the_token_reaches_only_the_steps_that_talk_to_the_history(workflow):
    for job_id, step in steps(workflow):
        env = step.get("env", {})
        if any("github.token" in str(value) or "secrets." in str(value) for value in env.values()):
            assert set(env) == {"HISTORY_TOKEN"}, step["name"]
            assert re.search(r"nox -s (history|publish) --", step["run"]), step["name"]
    build = next(step for job_id, step in steps(workflow) if step.get("name") == "Build this shard")
    assert "HISTORY_TOKEN" not in build.get("env", {})


def test_shards_run_to_the_end_then_publish_then_deploy(workflow):
    shard, publish, deploy = (workflow["jobs"][name] for name in ("shard", "publish", "deploy"))
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "schedule" in on and "workflow_dispatch" in on
    assert shard["strategy"]["fail-fast"] is False
    assert shard["strategy"]["matrix"]["shard"] == list(range(1, int(workflow["env"]["SHARDS"]) + 1))
    # tests/nightly/workflow_runner.py emulates exactly these conditions
    assert publish["needs"] == "shard" and publish["if"] == "${{ !cancelled() }}"
    assert deploy["needs"] == "publish" and deploy["if"] == "${{ !cancelled() && needs.publish.result == 'success' }}"
    upload = next(step for step in shard["steps"] if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"


def test_the_sessions_the_workflow_calls_are_one_line_into_the_pipeline():
    # the night test's nox stand-in runs `python -m pipeline NAME` for `nox -s NAME`
    noxfile = (ROOT / "noxfile.py").read_text()
    called = set(re.findall(r"nox -s (\w+) --", WORKFLOW.read_text()))
    assert called == {"history", "nightly", "publish"}
    for name in called:
        body = re.search(rf"\ndef {name}\(session: nox.Session\) -> None:\n(.*?)\n\n", noxfile, re.S)
        assert body and body.group(1).strip().splitlines()[-1].strip() == f'_pipeline(session, "{name}")'


def test_the_interpreter_matrix_follows_the_cpython_table_and_every_one_has_a_lock():
    line = re.search(r"\n\s+python: (\[.*\])\n", WORKFLOW.read_text()).group(1)
    wanted = ci_pythons(today())
    assert tuple(json.loads(line)) == wanted, (
        f"the CPython table says {list(wanted)} today: update the python matrix in {WORKFLOW.name}")
    for selector in wanted:
        assert environments.directory_lock(selector).is_file(), f"no toolchain lock for {selector}: nox -s lock"
