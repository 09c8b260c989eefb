"""A night's last step, on any machine: fold the history, merge the shards, append, push, render.

What the workflow's publish job runs (``nox -s publish``), and, without the shard files, how a
lost out/ or site is rebuilt from the history.  The order is the safety: the history is fetched
first (a fetch that fails stops everything before anything is written), the new rows are pushed
before the site is rendered (a site never shows what the history lacks), and a push the remote
rejects (it moved meanwhile) is retried from a fresh fetch, which appending makes harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ..engine.net import Retry
from ..errors import HistoryUnavailable
from ..records import Result
from .history import DEFAULT_BRANCH, DataBranch, History, Row, additions, commit_message, plural, site_files
from .store import STORE_NAME, RunLock, Store, canonical_row, read_export

#: renders ``results`` into the site folder with the history's files published as they are
SiteRender = Callable[[list[Result], Path, Mapping[str, bytes]], None]


@dataclass(frozen=True)
class HistoryOptions:
    """Where the history lives and how to treat it; ``token`` only ever reaches git."""

    remote: str
    branch: str = DEFAULT_BRANCH
    out_dir: Path = Path("out")
    first_run: bool = False
    wait: bool = False
    retry: Retry = Retry(attempts=3, backoff=2.0)
    token: str | None = field(default=None, repr=False)
    clone_dir: Path | None = None

    def data_branch(self) -> DataBranch:
        clone = self.clone_dir or self.out_dir / "history"
        return DataBranch(self.remote, self.branch, clone, token=self.token)


@dataclass(frozen=True)
class Folded:
    history: History
    added: int
    total: int
    store: Path

    def lines(self) -> list[str]:
        at = f"{self.history.branch}@{self.history.commit[:12]}" if self.history.commit else f"{self.history.branch} (new)"
        return [
            f"history: {plural(len(self.history), 'result')} in {plural(len(self.history.files), 'file')} from {at}; "
            f"{self.added} new in {self.store} ({self.total} in all)"
        ]


@dataclass(frozen=True)
class Published:
    history: History
    folded: int
    merged: int
    appended: int
    files: int
    pushed: bool
    attempts: int
    site: Path | None

    def lines(self) -> list[str]:
        at = f"{self.history.branch}@{self.history.commit[:12]}" if self.history.commit else self.history.branch
        if not self.appended:
            fate = "nothing new to append"
        else:
            fate = f"appended {plural(self.appended, 'result')}" + (" and pushed" if self.pushed else " (not pushed: --no-push)")
        out = [
            f"publish: {plural(self.files, 'result file')}, {self.merged} new to the store;"
            f" {self.folded} folded in from the history",
            f"publish: {fate}; history {at} holds {plural(len(self.history), 'result')}",
        ]
        if self.attempts > 1:
            out.append(f"publish: the push was retried ({self.attempts} attempts)")
        if self.site:
            out.append(f"site: {self.site / 'index.html'} (history: {self.site / 'history' / 'index.json'})")
        return out


def expand(paths: Sequence[Path]) -> list[Path]:
    """Result files, and every ``*.json`` under the folders given (shard artifacts are folders)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.json")) if path.is_dir() else [path])
    return files


def fetch_history(branch: DataBranch, options: HistoryOptions) -> History:
    """The history, retried with backoff while the remote cannot be reached; a missing branch
    (without ``first_run``) and a malformed file fail at once."""
    for attempt in range(1, options.retry.attempts + 1):
        try:
            return branch.fetch(options.first_run)
        except HistoryUnavailable as exc:
            if attempt == options.retry.attempts or exc.missing:
                raise
            options.retry.wait(attempt)
    raise AssertionError("retry.attempts must be at least 1")


def fold_history(options: HistoryOptions) -> Folded:
    """Fold the history into the store under ``out_dir`` (what a shard does before building)."""
    branch = options.data_branch()
    with RunLock(options.out_dir, wait=options.wait), Store.open(options.out_dir) as store:
        history = fetch_history(branch, options)
        added = store.add_rows(history.rows)
        return Folded(history, added, store.count(), options.out_dir / STORE_NAME)


def publish_night(
    options: HistoryOptions, result_files: Sequence[Path], push: bool = True, render: SiteRender | None = None,
    site_dir: Path | None = None,
) -> Published:
    """Fold the history, merge ``result_files``, append what the history lacks, push, render."""
    files = expand(result_files)
    rows: list[Row] = [canonical_row(row) for path in files for row in read_export(path)]
    branch = options.data_branch()
    folded = merged = appended = 0
    pushed = False
    with RunLock(options.out_dir, wait=options.wait), Store.open(options.out_dir) as store:
        for attempt in range(1, options.retry.attempts + 1):
            history = fetch_history(branch, options)
            folded += store.add_rows(history.rows)
            merged += store.add_rows(rows)
            new = additions(history, rows)
            appended = sum(len(r) for r in new.values())
            if not new:
                break
            history = branch.append(history, new, commit_message(new, len(files)))
            if not push:
                break
            try:
                branch.push()
            except HistoryUnavailable:
                if attempt == options.retry.attempts:
                    raise
                options.retry.wait(attempt)
                continue
            pushed = True
            break
        site = None
        if render is not None:
            site = site_dir or options.out_dir / "site"
            render(store.all_results(), site, site_files(history))
    return Published(history, folded, merged, appended, len(files), pushed, attempt, site)
