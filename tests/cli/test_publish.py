"""The history and publish commands: one-line errors, exit codes, the summary, the token kept
out of the process's environment and output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.nightly.test_history import row
from tests.nightly.test_publish import export


@pytest.fixture
def remote(tmp_path) -> Path:
    path = tmp_path / "tracker.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(path)], check=True)
    return path


def test_publish_then_history_print_what_they_did(remote, tmp_path, capsys):
    files = export(tmp_path / "shard-results" / "one" / "r.json", row("a"), row("b"))
    out = tmp_path / "out"
    assert main(["publish", str(files.parent.parent), "--remote", str(remote), "--out", str(out), "--first-run"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "publish: 1 result file, 2 new to the store; 0 folded in from the history"
    assert printed[1].startswith("publish: appended 2 results and pushed; history nightly-data@")
    assert printed[2] == f"site: {out / 'site' / 'index.html'} (history: {out / 'site' / 'history' / 'index.json'})"
    assert (out / "site" / "history" / "2026-04.jsonl").exists()
    assert main(["history", "--remote", str(remote), "--out", str(tmp_path / "fresh")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("history: 2 results in 1 file from nightly-data@") and line.endswith("2 new in "
        f"{tmp_path / 'fresh' / 'results.sqlite'} (2 in all)")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["publish", "no-such-dir", "--remote", "R"], "publish: error: no such result file or folder: no-such-dir"),
        (["history", "--remote", "R", "--attempts", "0"], "history: error: --attempts must be at least 1, got 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == message


def test_a_missing_history_is_exit_2_and_says_how_to_start_one(remote, tmp_path, capsys):
    assert main(["history", "--remote", str(remote), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"history: error: history 'nightly-data' on {remote}: the data branch does not exist")
    assert "--first-run" in err and "\n" not in err


def test_the_token_leaves_the_environment_and_never_shows(remote, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HISTORY_TOKEN", "s3cret-token")
    assert main(["history", "--remote", str(remote), "--out", str(tmp_path / "out"), "--first-run"]) == 0
    assert "HISTORY_TOKEN" not in os.environ
    captured = capsys.readouterr()
    assert "s3cret-token" not in captured.out + captured.err
