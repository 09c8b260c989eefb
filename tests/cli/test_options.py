"""Bad options: one line, exit 2, and never a record, let alone a verdict; exit 3 for the tool's own bugs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.cli.check import find_interpreters
from pipeline.cli.options import python_version
from pipeline.cli.text import Console
from pipeline.errors import UsageError
from pipeline.nightly.store import STORE_NAME
from tests.conftest import ROOT


def _refused(capsys, argv: list[str], out: Path, expected: str) -> None:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.out == "", "nothing on stdout: no table, no record"
    assert captured.err.count("\n") == 1 and expected in captured.err, captured.err
    assert "Traceback" not in captured.err
    assert not (out / STORE_NAME).exists(), "no record was stored"


@pytest.mark.parametrize("option, expected", [
    (["--timeout", "-1"], "argument --timeout: must be a positive number, got '-1'"),
    (["--timeout", "0"], "argument --timeout: must be a positive number, got '0'"),
    (["--timeout", "nan"], "argument --timeout: must be a positive number"),
    (["--memory", "0"], "argument --memory: must be a positive number, got '0'"),
    (["--memory", "-3"], "argument --memory: must be a positive number, got '-3'"),
    (["--jobs", "0"], "argument --jobs: must be at least 1, got '0'"),
    (["--jobs", "two"], "argument --jobs: not a whole number: 'two'"),
    (["--index-url", "not-a-url"], "argument --index-url: not an http(s):// or file:// URL: 'not-a-url'"),
    (["--index-url", "file:///no/such/index/"], "argument --index-url: no such folder"),
    (["--find-links", "/no/such/folder"], "argument --find-links: not a folder or a URL"),
    (["--python", "banana"], "argument --python: not a Python version: 'banana'"),
    (["--python", "2.7"], "unknown Python '2.7'; known: 3.8, 3.9,"),
    (["--json", "/no/such/folder/r.json"], "argument --json: cannot write JSON to"),
    (["-r", "/no/such/requirements.txt"], "cannot read requirements file /no/such/requirements.txt"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["--from-record", "/no/such/record.json"], "argument --from-record: no such file: /no/such/record.json"),
    (["--from-record", "ssh://host/r.json"], "argument --from-record: not an http(s):// or file:// URL"),
    (["--from-record", "/tmp"], "argument --from-record: /tmp is a folder without a results store"),
])
def test_a_bad_check_option_is_one_line_and_exit_2(tmp_path, capsys, option, expected):
    out = tmp_path / "out"
    _refused(capsys, ["check", "six", "--out", str(out), *option], out, expected)


def test_check_with_nothing_to_check_says_so(tmp_path, capsys):
    out = tmp_path / "out"
    _refused(capsys, ["check", "--out", str(out)], out, "nothing to check: give PKG[==VER], an sdist, or -r FILE")


def test_out_naming_a_file_or_a_path_through_a_file(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    _refused(capsys, ["check", "six", "--out", str(afile)], afile, f"argument --out: {afile} exists and is not a folder")
    _refused(capsys, ["check", "six", "--out", str(afile / "sub")], afile / "sub", "Not a directory")


def test_out_on_a_read_only_folder(tmp_path):
    """As root a mode bit stops nothing, so the folder is a read-only bind mount (a private mount namespace)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    command = [sys.executable, "-m", "pipeline", "check", "six", "--out", str(folder / "out")]
    if os.geteuid() == 0:
        script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
        command = ["unshare", "--mount", "sh", "-c", script, "sh", str(folder), *command]
    else:
        folder.chmod(0o555)
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "argument --out: cannot write in" in proc.stderr
    assert ("Read-only file system" in proc.stderr) or ("Permission denied" in proc.stderr)
    assert proc.stdout == ""


@pytest.mark.parametrize("argv, expected", [
    (["nightly", "--timeout", "0"], "argument --timeout: must be a positive number, got '0'"),
    (["nightly", "--memory", "0"], "argument --memory: must be a positive number"),
    (["nightly", "--jobs", "0"], "argument --jobs: must be at least 1"),
    (["nightly", "--python", "3.12.1"], "the nightly takes X.Y versions (--python 3.12)"),
    (["upstream", "six", "--timeout", "-1"], "argument --timeout: must be a positive number"),
    (["upstream", "six", "--python", "banana"], "argument --python: not a Python version"),
    (["diff", "a.whl", "b.whl", "--limit", "0"], "argument --limit: must be at least 1"),
    (["lists", "--count", "0"], "argument --count: must be at least 1"),
    (["lists", "--url", "ftp://x/"], "argument --url: not an http(s):// or file:// URL"),
])
def test_other_commands_refuse_bad_options_the_same_way(tmp_path, capsys, argv, expected):
    """A nightly with --timeout 0 once stored errors that made the next nightly skip the project."""
    out = tmp_path / "out"
    extra = ["--out", str(out)] if argv[0] in ("nightly", "upstream") else []
    _refused(capsys, argv + extra, out, expected)


def test_render_reads_the_results_folder_and_never_makes_a_store(tmp_path, capsys):
    out = tmp_path / "results"
    _refused(capsys, ["render", "--out", str(out)], out, f"no results store in {out}")
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("text, value", [("3.12", "3.12"), ("cp312", "3.12"), ("312", "3.12"), ("39", "3.9"),
                                         ("3.12.1", "3.12.1"), ("all", "all"), ("2.7", "2.7")])
def test_python_versions_are_read_as_written(text, value):
    assert python_version(text) == value


def test_an_exact_python_version_picks_that_interpreter(interpreters, capsys):
    installed = interpreters["3.12"].version  # e.g. 3.12.1
    found = find_interpreters([[installed]], Console())
    assert [i.version for i in found] == [installed]
    with pytest.raises(UsageError, match="no requested Python interpreter found"):
        find_interpreters([["3.12.999"]], Console())
    assert "Python 3.12.999 not found" in capsys.readouterr().err


def test_version_and_help_state_what_a_user_needs(capsys):
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("wheelrepro ")
    assert main(["check", "--version"]) == 0 and capsys.readouterr().out.startswith("wheelrepro ")
    assert main(["check", "--help"]) == 0
    text = capsys.readouterr().out
    for code in ("0  everything checked is reproducible", "1  something is unreproducible",
                 "2  something could not be checked", "3  an internal error"):
        assert code in text
    assert "-r FILE" in text and "--wheelhouse DIR" in text and "-q, --quiet" in text and "-v, --verbose" in text
    assert main(["--help"]) == 0 and "exit status:" in capsys.readouterr().out
    assert main(["frobnicate"]) == 2 and capsys.readouterr().err.count("\n") == 1


def test_an_unexpected_exception_is_one_line_naming_its_traceback_file_and_exit_3(tmp_path, capsys, monkeypatch):
    from pipeline.cli import check

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the tool")

    monkeypatch.setattr(check, "find_interpreters", broken)
    code = main(["check", "six", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1
    assert err.startswith("check: internal error: RuntimeError: a bug in the tool (traceback in ")
    saved = Path(err.rsplit("traceback in ", 1)[1].rstrip(")\n"))
    try:
        assert "Traceback (most recent call last)" in saved.read_text() and "a bug in the tool" in saved.read_text()
    finally:
        saved.unlink()
