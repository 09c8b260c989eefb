"""A night's publish step in-process: fold, merge, append, push, render; idempotent; a fetch that
fails changes nothing; a push the remote rejects is retried from a fresh fetch."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest

from pipeline.engine.net import Retry
from pipeline.errors import HistoryUnavailable
from pipeline.nightly.history import INDEX_FILE, DataBranch, additions
from pipeline.nightly.publish import HistoryOptions, fold_history, publish_night
from pipeline.nightly.store import EXPORT_KIND, Store
from tests.nightly.test_history import row

NO_WAIT = Retry(attempts=3, backoff=0.0, sleep=lambda seconds: None)


def export(path: Path, *rows: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"kind": EXPORT_KIND, "schema": 1, "rows": list(rows)}))
    return path


def branch_log(remote: Path) -> list[str]:
    done = subprocess.run(["git", "log", "--format=%s", "nightly-data"], cwd=remote, capture_output=True, text=True)
    return done.stdout.split("\n")[:-1] if done.returncode == 0 else []


@pytest.fixture
def remote(tmp_path) -> Path:
    path = tmp_path / "tracker.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(path)], check=True)
    return path


def options(remote: Path, out: Path, **kw) -> HistoryOptions:
    kw.setdefault("retry", NO_WAIT)
    return HistoryOptions(remote=str(remote), out_dir=out, **kw)


class Site:
    """Records what the publish step would render."""

    def __init__(self) -> None:
        self.calls: list[tuple[list, Path, dict]] = []

    def __call__(self, results, out_dir, extra) -> None:
        self.calls.append((results, out_dir, dict(extra)))


def test_a_first_night_appends_pushes_and_renders_with_the_history(remote, tmp_path):
    shard = export(tmp_path / "shard-results" / "a" / "r.json", row("a"), row("b"))
    site = Site()
    published = publish_night(options(remote, tmp_path / "out", first_run=True), [tmp_path / "shard-results"], render=site)
    assert (published.appended, published.merged, published.pushed, published.files) == (2, 2, True, 1)
    assert branch_log(remote) == ["nightly: 2 new results from 1 file (2026-04)"]
    results, out_dir, extra = site.calls[0]
    assert [r.name for r in results] == ["a", "b"] and out_dir == tmp_path / "out" / "site"
    assert json.loads(extra[INDEX_FILE])["rows"] == 2 and json.loads(extra[INDEX_FILE])["commit"] == published.history.commit
    assert shard.exists()


def test_publishing_the_same_files_again_appends_nothing_and_commits_nothing(remote, tmp_path):
    files = [export(tmp_path / "r.json", row("a"), row("b"))]
    publish_night(options(remote, tmp_path / "out", first_run=True), files)
    again = publish_night(options(remote, tmp_path / "elsewhere"), files)  # a fresh runner: history folded in
    assert (again.appended, again.folded, again.merged, again.pushed) == (0, 2, 0, False)
    assert len(branch_log(remote)) == 1
    with Store.open(tmp_path / "elsewhere") as store:
        assert store.count() == 2


def test_a_history_that_cannot_be_fetched_stops_the_night_before_anything_is_written(remote, tmp_path):
    publish_night(options(remote, tmp_path / "out", first_run=True), [export(tmp_path / "r.json", row("a"))])
    tried: list[float] = []
    gone = tmp_path / "gone.git"
    remote.rename(gone)
    site = Site()
    failing = options(remote, tmp_path / "runner", first_run=True, retry=Retry(3, 1.0, sleep=tried.append))
    with pytest.raises(HistoryUnavailable, match="does not appear to be a git repository"):
        publish_night(failing, [export(tmp_path / "r2.json", row("b"))], render=site)
    assert tried == [1.0, 2.0]  # three tries, with backoff, before giving up
    assert site.calls == []
    with Store.open(tmp_path / "runner") as store:
        assert store.count() == 0  # the shard results were not merged into a store without the history
    gone.rename(remote)
    assert branch_log(remote) == ["nightly: 1 new result from 1 file (2026-04)"]


def test_a_missing_branch_is_not_retried(remote, tmp_path):
    tried: list[float] = []
    with pytest.raises(HistoryUnavailable, match="first run must say so"):
        publish_night(options(remote, tmp_path / "out", retry=Retry(3, 1.0, sleep=tried.append)), [])
    assert tried == []


class RacedBranch(DataBranch):
    """Another publisher pushes between this one's fetch and its first push."""

    def __init__(self, *args, rival: DataBranch, **kw) -> None:
        super().__init__(*args, **kw)
        self.rival = rival
        self.raced = False

    def push(self) -> None:
        if not self.raced:
            self.raced = True
            history = self.rival.fetch(first_run=True)
            self.rival.append(history, additions(history, [row("rival")]), "rival night")
            self.rival.push()
        super().push()


def test_a_push_the_remote_rejects_is_retried_from_a_fresh_fetch(remote, tmp_path, monkeypatch):
    rival = DataBranch(str(remote), "nightly-data", tmp_path / "rival")
    raced = RacedBranch(str(remote), "nightly-data", tmp_path / "out" / "history", rival=rival)
    monkeypatch.setattr(HistoryOptions, "data_branch", lambda self: raced)
    published = publish_night(options(remote, tmp_path / "out", first_run=True), [export(tmp_path / "r.json", row("a"))])
    assert published.attempts == 2 and published.pushed
    assert branch_log(remote) == ["nightly: 1 new result from 1 file (2026-04)", "rival night"]
    assert sorted(r["result"]["name"] for r in DataBranch(str(remote), "nightly-data", tmp_path / "check").fetch().rows) == [
        "a", "rival"
    ]


def test_no_push_commits_locally_only(remote, tmp_path):
    published = publish_night(options(remote, tmp_path / "out", first_run=True), [export(tmp_path / "r.json", row("a"))],
                              push=False)
    assert published.appended == 1 and not published.pushed and branch_log(remote) == []


def test_a_lost_store_is_rebuilt_from_the_history(remote, tmp_path):
    publish_night(options(remote, tmp_path / "out", first_run=True),
                  [export(tmp_path / "r.json", row("a"), row("b", status="unreproducible"))])
    folded = fold_history(options(remote, tmp_path / "new-out"))
    assert (folded.added, folded.total, len(folded.history)) == (2, 2, 2)
    assert fold_history(options(remote, tmp_path / "new-out")).added == 0
    with Store.open(tmp_path / "new-out") as store, Store.open(tmp_path / "out") as original:
        assert [r.to_json() for r in store.all_results()] == [r.to_json() for r in original.all_results()]


def test_a_lost_repository_is_rebuilt_from_the_sites_download(remote, tmp_path):
    site = Site()
    first = [export(tmp_path / "r.json", row("a"), row("b", finished="2026-05-02T00:00:00Z"))]
    publish_night(options(remote, tmp_path / "out", first_run=True), first, render=site)
    download = site.calls[0][2]["history/all.jsonl.gz"]
    # the repository is gone; a new one gets the download as one file on a new data branch
    new_remote = tmp_path / "new.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(new_remote)], check=True)
    work = tmp_path / "restore"
    (work / "history").mkdir(parents=True)
    (work / "history" / "restored.jsonl").write_bytes(gzip.decompress(download))
    for command in (["init", "--quiet", "-b", "nightly-data"], ["add", "-A"],
                    ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "restore"],
                    ["push", "--quiet", str(new_remote), "nightly-data"]):
        subprocess.run(["git", *command], cwd=work, check=True)
    again = publish_night(options(new_remote, tmp_path / "new-out"), [*first, export(tmp_path / "r2.json", row("c"))])
    assert (again.folded, again.appended) == (2, 1)  # the old rows are known; only the new one is appended
    assert sorted(r["result"]["name"] for r in again.history.rows) == ["a", "b", "c"]


def test_the_published_site_says_where_the_tool_comes_from(remote, tmp_path, monkeypatch):
    from pipeline.cli.publish import main_publish

    monkeypatch.chdir(tmp_path)  # the site's relative log paths start here
    shard = export(tmp_path / "shard-results" / "r.json", row("a"))
    code = main_publish([str(shard), "--remote", str(remote), "--first-run", "--out", str(tmp_path / "out"),
                         "--attempts", "1", "--repository", "https://git.example/tracker"])
    assert code == 0
    page = (tmp_path / "out" / "site" / "projects" / "a.html").read_text()
    assert "pipx run --spec git+https://git.example/tracker wheelrepro check --from-record" in page
    assert 'The tool comes from <a href="https://git.example/tracker"' in page
