"""The history on its data branch: line format, months, idempotent appends, and the git edge
against a local bare repository (no network)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from pipeline.errors import HistoryUnavailable, InvalidRecords, PipelineError
from pipeline.nightly.history import (
    ALL_FILE,
    INDEX_FILE,
    DataBranch,
    History,
    additions,
    encode_row,
    extended,
    git_auth_env,
    month_file,
    parse_lines,
    site_files,
)
from pipeline.nightly.store import Store, content_key, row_json
from pipeline.records import Environment, Result


def row(name="alpha", finished="2026-04-30T02:00:00+00:00", status="reproducible", base="base-312") -> dict:
    env = Environment("fp", base, "3.12.4", "cp312", ("pip==25",), (), "/env")
    result = Result(name, "1.0", "3.12.4", "cp312", status, finished, finished, f"nox -s check -- {name}==1.0",  # type: ignore[arg-type]
                    environment=env)
    return row_json(result, base)


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def remote(tmp_path) -> Path:
    path = tmp_path / "tracker.git"
    git("init", "--quiet", "--bare", str(path))
    return path


# -- the pure part ---------------------------------------------------------------------------


def test_a_line_is_the_canonical_row_and_parses_back():
    line = encode_row({"result": row()["result"], "base": "base-312", "ignored": 1})
    assert line.endswith("\n") and line.count("\n") == 1 and line.startswith('{"base":"base-312","result":{')
    assert parse_lines(line + "\n" + line, "f.jsonl") == (row(), row())


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{not json", "f.jsonl:2: not JSON"),
        ("[1, 2]", "f.jsonl:2: not a history row"),
        ('{"base": "b", "result": {"name": "x"}}', "f.jsonl:2: malformed result"),
    ],
)
def test_a_bad_line_names_its_file_and_line(text, reason):
    with pytest.raises(InvalidRecords) as caught:
        parse_lines(encode_row(row()) + text + "\n", "f.jsonl")
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize(
    "finished, path",
    [
        ("2026-04-30T02:00:00+00:00", "history/2026-04.jsonl"),
        ("2026-04-30T23:30:00-02:00", "history/2026-05.jsonl"),  # the month in UTC
        ("2026-12-31T23:59:59Z", "history/2026-12.jsonl"),
        ("", "history/undated.jsonl"),
    ],
)
def test_rows_go_to_the_month_their_result_finished_in(finished, path):
    assert month_file(row(finished=finished)) == path


def test_additions_are_what_the_history_lacks_each_once_by_month_in_order():
    old = row("alpha")
    history = History({"history/2026-04.jsonl": (old,)})
    may = row("gamma", finished="2026-05-01T02:00:00+00:00")
    new = additions(history, [old, row("beta"), may, row("beta"), dict(old, extra="x")])
    assert new == {"history/2026-04.jsonl": [row("beta")], "history/2026-05.jsonl": [may]}
    assert additions(extended(history, new, "c2"), [old, row("beta"), may]) == {}


def test_a_row_without_a_base_is_the_row_with_an_empty_one(tmp_path):
    bare = {"result": row(base="")["result"]}
    assert content_key(bare) == content_key(row(base=""))
    with Store.open(tmp_path) as store:
        assert store.add_rows([bare]) == 1
        assert store.add_rows(parse_lines(encode_row(bare), "f")) == 0


def test_the_site_gets_the_month_files_one_gzip_of_all_and_an_index():
    history = History(
        {"history/2026-04.jsonl": (row("a"), row("b")), "history/2026-05.jsonl": (row("c", "2026-05-02T00:00:00Z"),)},
        commit="f" * 40,
    )
    files = site_files(history)
    assert files == site_files(history)  # same history, same bytes: no time inside the gzip
    april, may = files["history/2026-04.jsonl"], files["history/2026-05.jsonl"]
    assert gzip.decompress(files[ALL_FILE]) == april + may
    index = json.loads(files[INDEX_FILE])
    assert index["rows"] == 3 and index["commit"] == "f" * 40 and index["all"] == ALL_FILE
    assert [(f["path"], f["rows"], f["sha256"]) for f in index["files"]] == [
        ("history/2026-04.jsonl", 2, hashlib.sha256(april).hexdigest()),
        ("history/2026-05.jsonl", 1, hashlib.sha256(may).hexdigest()),
    ]


def test_a_token_reaches_git_as_an_http_header_for_https_remotes_only():
    env = git_auth_env("https://github.com/o/r.git", "s3cret", {})
    assert env["GIT_CONFIG_COUNT"] == "1" and env["GIT_CONFIG_KEY_0"] == "http.https://github.com/.extraheader"
    assert base64.b64decode(env["GIT_CONFIG_VALUE_0"].split()[-1]) == b"x-access-token:s3cret"
    # settings someone already passes through GIT_CONFIG_* are kept
    assert git_auth_env("https://h/r.git", "t", {"GIT_CONFIG_COUNT": "2"})["GIT_CONFIG_KEY_2"] == "http.https://h/.extraheader"
    for remote in ("/srv/tracker.git", "git@github.com:o/r.git", "file:///srv/r.git"):
        assert git_auth_env(remote, "s3cret", {}) == {}
    assert git_auth_env("https://github.com/o/r.git", None, {}) == {}


# -- the git edge ----------------------------------------------------------------------------


def test_a_missing_branch_is_an_error_unless_the_run_says_it_is_the_first(remote, tmp_path):
    branch = DataBranch(str(remote), "nightly-data", tmp_path / "clone")
    with pytest.raises(HistoryUnavailable, match="does not exist; the first run must say so") as caught:
        branch.fetch()
    assert caught.value.missing
    assert len(branch.fetch(first_run=True)) == 0


def test_an_unreachable_remote_is_an_error_even_on_a_first_run(tmp_path):
    branch = DataBranch(str(tmp_path / "gone.git"), "nightly-data", tmp_path / "clone")
    with pytest.raises(HistoryUnavailable, match="git ls-remote failed: fatal: .*gone.git") as caught:
        branch.fetch(first_run=True)
    assert not caught.value.missing


def test_an_https_remote_that_refuses_never_shows_the_token(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    branch = DataBranch(f"http://127.0.0.1:{port}/o/r.git", "nightly-data", tmp_path / "clone", token="s3cret-token")
    with pytest.raises(HistoryUnavailable) as caught:
        branch.fetch(first_run=True)
    assert "s3cret-token" not in str(caught.value)


def test_the_token_is_in_gits_environment_never_in_its_arguments(tmp_path, monkeypatch):
    seen = []
    real = subprocess.run

    def spy(command, **kw):
        seen.append((command, kw.get("env") or {}))
        return real(command, **kw)

    monkeypatch.setattr("pipeline.nightly.history.subprocess.run", spy)
    branch = DataBranch("http://127.0.0.1:9/o/r.git", "nightly-data", tmp_path / "clone", token="s3cret-token")
    with pytest.raises(HistoryUnavailable):
        branch.fetch(first_run=True)
    assert seen and all("s3cret-token" not in " ".join(command) for command, _ in seen)
    header = base64.b64encode(b"x-access-token:s3cret-token").decode()
    assert all(env.get("GIT_CONFIG_VALUE_0") == f"AUTHORIZATION: basic {header}" for _, env in seen)


def test_appended_rows_are_pushed_and_read_back_by_another_clone(remote, tmp_path):
    first = DataBranch(str(remote), "nightly-data", tmp_path / "one")
    history = first.fetch(first_run=True)
    history = first.append(history, additions(history, [row("a"), row("b")]), "night 1")
    first.push()
    again = DataBranch(str(remote), "nightly-data", tmp_path / "two").fetch()
    assert again.rows == [row("a"), row("b")] and again.commit == history.commit
    assert git("log", "--format=%an %s", "nightly-data", cwd=remote) == "reproducible-wheels nightly night 1"
    assert (tmp_path / "two" / "README.md").read_text().startswith("# The reproducible-wheels tracker's results history")


def test_a_file_is_only_ever_appended_to(remote, tmp_path):
    branch = DataBranch(str(remote), "nightly-data", tmp_path / "clone")
    history = branch.fetch(first_run=True)
    branch.append(history, additions(history, [row("a")]), "night 1")
    branch.push()
    before = (tmp_path / "clone" / "history" / "2026-04.jsonl").read_bytes()
    history = branch.fetch()
    history = branch.append(history, additions(history, [row("a"), row("b")]), "night 2")
    branch.push()
    after = (tmp_path / "clone" / "history" / "2026-04.jsonl").read_bytes()
    assert after.startswith(before) and after[len(before):] == encode_row(row("b")).encode()
    diff = git("diff", "--numstat", "nightly-data~1", "nightly-data", cwd=remote)
    assert diff == "1\t0\thistory/2026-04.jsonl"  # one line added, none removed


def test_an_empty_branch_is_an_empty_history(remote, tmp_path):
    work = tmp_path / "seed"
    git("init", "--quiet", "-b", "nightly-data", str(work))
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "--allow-empty", "-m", "start", cwd=work)
    git("push", "--quiet", str(remote), "nightly-data", cwd=work)
    history = DataBranch(str(remote), "nightly-data", tmp_path / "clone").fetch()
    assert len(history) == 0 and len(history.commit) == 40


def _push_files(remote: Path, tmp_path: Path, files: dict[str, str], link: tuple[str, str] | None = None) -> None:
    work = tmp_path / "hand"
    git("init", "--quiet", "-b", "nightly-data", str(work))
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    if link:
        (work / link[0]).symlink_to(link[1])
    git("add", "-A", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "by hand", cwd=work)
    git("push", "--quiet", str(remote), "nightly-data", cwd=work)


def test_a_malformed_history_fails_rather_than_folding_part_of_it(remote, tmp_path):
    _push_files(remote, tmp_path, {"history/2026-04.jsonl": encode_row(row()) + "{oops\n"})
    with pytest.raises(InvalidRecords, match="nightly-data:history/2026-04.jsonl:2: not JSON"):
        DataBranch(str(remote), "nightly-data", tmp_path / "clone").fetch()


def test_a_link_on_the_branch_is_never_followed(remote, tmp_path):
    secret = tmp_path / "secret.jsonl"
    secret.write_text(encode_row(row("secret")))
    _push_files(remote, tmp_path, {"history/2026-04.jsonl": encode_row(row())}, link=("history/2026-05.jsonl", str(secret)))
    with pytest.raises(InvalidRecords, match="history/2026-05.jsonl:1: not JSON"):
        DataBranch(str(remote), "nightly-data", tmp_path / "clone").fetch()  # the link's text, as a file


def test_the_clone_folder_is_replaced_only_when_it_is_a_clone_made_here(remote, tmp_path):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    with pytest.raises(PipelineError, match="not a history clone made by the tracker"):
        DataBranch(str(remote), "nightly-data", mine).fetch(first_run=True)
    assert (mine / "keep.txt").read_text() == "mine"
    clone = tmp_path / "clone"
    DataBranch(str(remote), "nightly-data", clone).fetch(first_run=True)
    (clone / "leftover").write_text("x")
    DataBranch(str(remote), "nightly-data", clone).fetch(first_run=True)
    assert not (clone / "leftover").exists()
