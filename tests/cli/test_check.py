"""The check command as a user runs it: exit codes, the table, --json, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.cli import exit_code, main
from pipeline.engine import net
from pipeline.records import Result
from tests.conftest import ROOT
from tests.sdists import intree_sdist


def _result(status: str) -> Result:
    return Result(name="x", version="1", python="3.12.1", interpreter="cp312", status=status, started="", finished="",
                  reproduce="")


@pytest.mark.parametrize(
    "statuses, code",
    [(["reproducible"], 0), (["reproducible", "unreproducible"], 1), (["reproducible", "build-failed"], 2),
     (["timeout"], 2), (["error"], 2), (["no-sdist"], 2), (["unreproducible", "error"], 1), ([], 2)],
)
def test_exit_codes_gate_a_release(statuses, code):
    assert exit_code([_result(s) for s in statuses]) == code


def _cli(*args: str, out) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "check", *args, "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_check_a_local_sdist_and_an_index_project_with_json(index, tmp_path, shared_out, wheelhouse, sandboxed):
    index.add("clipkg", "clipkg-2.0.tar.gz", intree_sdist("clipkg", "2.0"))
    local = tmp_path / "dist" / "localpkg-0.1.tar.gz"
    local.parent.mkdir()
    local.write_bytes(intree_sdist("localpkg", "0.1"))
    extra = ["--unsandboxed"] if not sandboxed else []
    proc = _cli("clipkg", str(local), "--python", "3.11", "--index-url", index.url, "--find-links", str(wheelhouse),
                "--json", str(tmp_path / "r.json"), *extra, out=shared_out)

    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith(("clipkg ", "localpkg "))]
    assert [(r[0], r[1], r[4]) for r in rows[:2]] == [("clipkg", "2.0", "reproducible"), ("localpkg", "0.1", "reproducible")]
    assert "reproduce:  nox -s check -- clipkg==2.0 --python 3.11" in proc.stdout
    assert "[cp311] build 2/2" in proc.stderr, "progress names the package, interpreter and build"
    records = json.loads((tmp_path / "r.json").read_text())
    assert [(r["name"], r["status"]) for r in records] == [("clipkg", "reproducible"), ("localpkg", "reproducible")]
    assert records[1]["sdist"]["url"] == local.resolve().as_uri()


def test_an_unknown_project_is_one_clear_line(index, tmp_path):
    index.add("known", "known-1.0.tar.gz", intree_sdist("known", "1.0"))
    proc = _cli("nosuchpkg", "--python", "3.11", "--index-url", index.url, "--unsandboxed", out=tmp_path / "out")
    assert proc.returncode == 2
    assert "error: nosuchpkg: no project named 'nosuchpkg' on file://" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_dead_network_is_one_clear_line_after_backing_off(tmp_path, monkeypatch, capsys):
    waits: list[float] = []
    monkeypatch.setattr(net, "DEFAULT_RETRY", net.Retry(attempts=4, backoff=1.0, sleep=waits.append))
    code = main(["check", "six", "--python", "3.11", "--index-url", "http://127.0.0.1:9/simple/", "--unsandboxed",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach http://127.0.0.1:9/simple/six/" in err
    assert "Traceback" not in err
    assert waits == [1.0, 2.0, 4.0], "three waits, doubling, between four tries"


def _upstream_result(status: str | None, build: str = "reproducible") -> Result:
    from pipeline.records import Upstream

    return Result(name="x", version="1", python="3.12.1", interpreter="cp312", status=build, started="", finished="",
                  reproduce="", upstream=Upstream(status) if status else None)


@pytest.mark.parametrize("statuses, code", [
    (["identical", "equivalent"], 0), (["identical", "different"], 1), (["no-wheel"], 1), (["not-comparable"], 1),
    ([None], 1), (["identical", "not-checked"], 2), ([], 2),
])
def test_require_upstream_fails_unless_every_index_wheel_is_reproduced(statuses, code):
    from pipeline.cli.check import upstream_exit_code

    assert upstream_exit_code([_upstream_result(s) for s in statuses]) == code


def test_require_upstream_cannot_be_combined_with_no_upstream(tmp_path, capsys):
    assert main(["check", "six", "--require-upstream", "--no-upstream", "--out", str(tmp_path)]) == 2
    assert "--require-upstream needs the comparison" in capsys.readouterr().err
