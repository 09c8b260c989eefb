"""Run the nightly workflow's own steps on this machine, job by job, as GitHub would.

Each job runs in a fresh folder (its checkout, with a fixture list in lists/).  Its ``run:``
steps that call nox are the workflow's bash scripts, run as they are, in order, under GitHub's
shell (``bash --noprofile --norc -eo pipefail``), stopping at the first that fails; their
environment is the workflow's, the job's and the step's ``env:``, with each ``${{ }}``
expression looked up in a small context (an expression it does not know fails the test, so a
new one is noticed).  What only GitHub has is stood in for:

- ``nox -s NAME -- ARGS`` runs ``python -m pipeline NAME ARGS`` (each session is that one line;
  tests/test_workflow.py checks the noxfile says so), except that the nightly's double build is
  FakeEngine's (tests/nightly/fake_nightly.py);
- ``sudo`` runs the command as it is (the tests run as root);
- the repository is a local bare one at ``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY.git`` (a file:// URL);
- ``uses:`` steps: checkout is the fresh folder, setup-python nothing, upload-artifact (it runs
  ``if: always()``) and download-artifact copy folders, upload-pages-artifact hands the folder to
  the deploy job, which "deploys" it by copying it to ``deployed/``.

The matrix is the test's (shards x the interpreters the fake engine knows), and SHARDS with it;
HISTORY_ATTEMPTS is 1, so an unreachable remote fails without the waits between tries.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
REPOSITORY = "tracker/wheels"

_NOX = """#!/bin/bash
# nox -s NAME -- ARGS: each session of the noxfile is `python -m pipeline NAME ARGS`
set -eu
if [ "${1:-}" != -s ] || [ "${3:-}" != -- ]; then echo "nox stand-in: expected nox -s NAME -- ARGS, got: $*" >&2; exit 64; fi
name=$2; shift 3
if [ "$name" = nightly ]; then exec "$NIGHT_PYTHON" -m tests.nightly.fake_nightly "$@"; fi
exec "$NIGHT_PYTHON" -m pipeline "$name" "$@"
"""
_SUDO = '#!/bin/sh\nexec "$@"\n'
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def evaluate(text: Any, context: Mapping[str, str]) -> str:
    """``${{ name }}`` replaced from ``context``; KeyError for any other expression."""
    return _EXPRESSION.sub(lambda m: context[m.group(1)], str(text))


@dataclass
class Step:
    name: str
    returncode: int
    output: str


@dataclass
class Job:
    name: str
    folder: Path
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.returncode == 0 for step in self.steps)

    def checks(self) -> list[tuple[str, str, str]]:
        calls = self.folder / "checks.jsonl"
        return [tuple(json.loads(line)) for line in calls.read_text().splitlines()] if calls.exists() else []

    def failure(self) -> Step | None:
        return next((step for step in self.steps if step.returncode), None)


@dataclass
class Night:
    """One night of the workflow: every shard job, then publish, then deploy."""

    number: int
    shards: list[Job]
    publish: Job
    deployed: bool


@dataclass
class Workflow:
    """A tracker's repository (a bare git remote) and the nights run against it."""

    base: Path
    lists: str
    pythons: tuple[str, ...] = ("3.11", "3.12")
    shards: int = 3
    variables: dict[str, str] = field(default_factory=dict)
    parallel: int = 3

    def __post_init__(self) -> None:
        self.definition = load()
        self.server = self.base / "server"
        self.remote = self.server / f"{REPOSITORY}.git"
        self.remote.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--quiet", "--bare", str(self.remote)], check=True)
        self.bin = self.base / "bin"
        self.bin.mkdir()
        for name, text in (("nox", _NOX), ("sudo", _SUDO)):
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.deployed = self.base / "deployed"
        shard = self.definition["jobs"]["shard"]["strategy"]
        assert shard["fail-fast"] is False, "a failing shard must not cancel the others"
        assert shard["matrix"]["shard"] == list(range(1, int(self.definition["env"]["SHARDS"]) + 1))
        self.definition["env"]["SHARDS"] = str(self.shards)
        # a remote that cannot be reached fails at the first try (the retries are tested in-process)
        self.definition["env"]["HISTORY_ATTEMPTS"] = "1"

    # -- one job ---------------------------------------------------------------------------

    def _env(self, job_id: str, step: Mapping[str, Any], context: Mapping[str, str], folder: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HISTORY_", "FAKE_"))}
        env.update(
            PATH=f"{self.bin}:{os.environ['PATH']}",
            PYTHONPATH=str(ROOT),
            NIGHT_PYTHON=sys.executable,
            GITHUB_SERVER_URL=self.server.as_uri(),  # a URL, as on GitHub (git takes file://)
            GITHUB_REPOSITORY=REPOSITORY,
            GITHUB_WORKSPACE=str(folder),
            FAKE_NIGHT=str(folder / "fake-night.json"),
        )
        job = self.definition["jobs"][job_id]
        for scope in (self.definition.get("env", {}), job.get("env", {}), step.get("env", {})):
            env.update({key: evaluate(value, context) for key, value in scope.items()})
        return env

    def _run_job(
        self, job_id: str, folder: Path, context: Mapping[str, str], artifacts: Path, files: Mapping[str, str] = {}
    ) -> Job:
        folder.mkdir(parents=True)
        (folder / "lists").mkdir()
        (folder / "lists" / "fixture.txt").write_text(self.lists)
        for name, text in files.items():
            (folder / name).write_text(text)
        job = Job(evaluate(self.definition["jobs"][job_id].get("name", job_id), context), folder)
        for step in self.definition["jobs"][job_id]["steps"]:
            uses = step.get("uses", "")
            if uses.startswith("actions/upload-artifact@"):
                assert step.get("if") == "always()", "the shard's results are uploaded even when the shard fails"
                source = folder / step["with"]["path"]
                if source.is_dir() and any(source.iterdir()):
                    shutil.copytree(source, artifacts / evaluate(step["with"]["name"], context))
            elif uses.startswith("actions/download-artifact@"):
                if job.ok:
                    dest = folder / step["with"]["path"]
                    for artifact in sorted(artifacts.iterdir()):
                        if fnmatch.fnmatch(artifact.name, step["with"]["pattern"]):
                            shutil.copytree(artifact, dest / artifact.name)
            elif uses.startswith("actions/upload-pages-artifact@"):
                if job.ok:
                    (self.base / "pages-artifact").write_text(str(folder / step["with"]["path"]))
            elif "run" in step and "nox -s" in step["run"] and job.ok:
                done = subprocess.run(
                    ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                    cwd=folder, env=self._env(job_id, step, context, folder),
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                )
                job.steps.append(Step(step.get("name", "run"), done.returncode, done.stdout))
        return job

    # -- one night -------------------------------------------------------------------------

    def night(self, number: int, fake: Mapping[str, Any], dying: Mapping[tuple[int, str], int] = {},
              force: bool = False) -> Night:
        """Every shard job (``dying`` maps (shard, python) to the checks after which its runner
        is lost), then publish and, when it succeeded, deploy."""
        nights = self.base / f"night{number}"
        artifacts = nights / "artifacts"
        artifacts.mkdir(parents=True)
        common = {
            "github.token": "token-not-for-git",
            "vars.NIGHTLY_FIRST_RUN": self.variables.get("NIGHTLY_FIRST_RUN", ""),
            "inputs.force": "true" if force else "",
        }
        jobs = []
        for shard in range(1, self.shards + 1):
            for python in self.pythons:
                folder = nights / f"shard{shard}-py{python}"
                spec = dict(fake, calls=str(folder / "checks.jsonl"), die_after=dying.get((shard, python)))
                context = {**common, "matrix.shard": str(shard), "matrix.python": python}
                jobs.append((folder, spec, context))

        with ThreadPoolExecutor(self.parallel) as pool:
            shards = list(pool.map(
                lambda job: self._run_job("shard", job[0], job[2], artifacts, {"fake-night.json": json.dumps(job[1])}),
                jobs,
            ))
        publish = self._run_job("publish", nights / "publish", common, artifacts)
        deployed = False
        if publish.ok and (self.base / "pages-artifact").exists():
            site = Path((self.base / "pages-artifact").read_text())
            (self.base / "pages-artifact").unlink()
            shutil.rmtree(self.deployed, ignore_errors=True)
            shutil.copytree(site, self.deployed)
            deployed = True
        return Night(number, shards, publish, deployed)
