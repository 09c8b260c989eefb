"""The results history: every night's results, committed as JSON lines on a git data branch.

The history is the record; the store under out/ is a cache rebuilt from it.  The branch holds
``history/YYYY-MM.jsonl``: one stored row a line (``{"base", "result"}``, canonical JSON), in the
file of the month its result finished.  A night appends only the rows whose content key the
history lacks, at the end of their month's file, so folding and appending are idempotent and a
line, once pushed, is never rewritten.

The functions on :class:`History` are pure; :class:`DataBranch` is the git edge (``git`` in a
subprocess, against a URL or a local path).  A remote that cannot be read is an error, never an
empty history: only a run that says it is the first may start from a missing branch.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..engine import programs
from ..errors import HistoryUnavailable, InvalidRecords, PipelineError
from ..records import Result, sortable_utc
from .store import canonical_row, content_key

HISTORY_DIR = "history"
DEFAULT_BRANCH = "nightly-data"
INDEX_KIND = "wheel-repro-history"
#: the site's one-file download of every line, in file order
ALL_FILE = f"{HISTORY_DIR}/all.jsonl.gz"
INDEX_FILE = f"{HISTORY_DIR}/index.json"
#: the month file of a result without a usable finish time
UNDATED = "undated"
#: the environment variable a token for an https remote is read from (the CLI takes it out of
#: its own environment and hands it to git alone)
TOKEN_VARIABLE = "HISTORY_TOKEN"
#: git config key marking a folder as this module's disposable clone
_CACHE_MARK = "wheelrepro.historycache"
_IDENTITY = ("-c", "user.name=reproducible-wheels nightly", "-c", "user.email=nightly@reproducible-wheels.invalid")
_README = """\
# The reproducible-wheels tracker's results history

Written by the nightly workflow; never edit it by hand.  `history/YYYY-MM.jsonl` holds one
result a line (`{"base": ..., "result": {...}}`), in the month the result finished; lines are
only ever appended.  `nox -s history -- --remote URL` folds this branch into a results store,
and `nox -s render` makes the site from it (docs/nightly.md in the tracker's source).
"""

Row = dict[str, Any]


@dataclass(frozen=True)
class History:
    """The history as read from one commit: month file -> rows in line order."""

    files: Mapping[str, tuple[Row, ...]] = field(default_factory=dict)
    commit: str = ""
    branch: str = DEFAULT_BRANCH

    @property
    def rows(self) -> list[Row]:
        """Every row, months in order, lines in order."""
        return [row for path in sorted(self.files) for row in self.files[path]]

    @cached_property
    def keys(self) -> frozenset[str]:
        return frozenset(content_key(row) for row in self.rows)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.files.values())


def encode_row(row: Mapping[str, Any]) -> str:
    """One history line: the canonical row, compact, keys sorted, newline-terminated."""
    return json.dumps(canonical_row(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def month_file(row: Mapping[str, Any]) -> str:
    """The file a row belongs in: the month (UTC) its result finished."""
    try:
        month = sortable_utc(str(row["result"].get("finished") or ""))[:7]
    except (ValueError, AttributeError):
        month = ""
    return f"{HISTORY_DIR}/{month or UNDATED}.jsonl"


def parse_lines(text: str, source: str) -> tuple[Row, ...]:
    """The rows of one history file; InvalidRecords naming the file and line of a bad one."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InvalidRecords(where, f"not JSON: {exc}") from None
        if not isinstance(row, dict) or not isinstance(row.get("result"), dict):
            raise InvalidRecords(where, "not a history row (expected {\"base\", \"result\"})")
        try:
            Result.from_json(row["result"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRecords(where, f"malformed result ({exc})") from None
        rows.append(canonical_row(row))
    return tuple(rows)


def additions(history: History, rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Row]]:
    """The rows the history lacks, each once, grouped by month file, in the order given."""
    rows = list(rows)
    if not rows:
        return {}  # nothing to look up: spare the content keys of the whole history
    seen = set(history.keys)
    new: dict[str, list[Row]] = {}
    for row in rows:
        key = content_key(row)
        if key in seen:
            continue
        seen.add(key)
        new.setdefault(month_file(row), []).append(canonical_row(row))
    return new


def extended(history: History, new: Mapping[str, Sequence[Row]], commit: str) -> History:
    """The history after appending ``new`` in ``commit``."""
    files = {path: tuple(rows) for path, rows in history.files.items()}
    for path, rows in new.items():
        files[path] = files.get(path, ()) + tuple(rows)
    return History(files=files, commit=commit, branch=history.branch)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def commit_message(new: Mapping[str, Sequence[Row]], sources: int) -> str:
    count = sum(len(rows) for rows in new.values())
    months = ", ".join(sorted(Path(path).stem for path in new))
    return f"nightly: {plural(count, 'new result')} from {plural(sources, 'file')} ({months})"


def site_files(history: History) -> dict[str, bytes]:
    """What the site publishes of the history: each month file as committed, every line in one
    gzip file (no timestamp inside, so the same history gives the same bytes), and an index."""
    files = {path: "".join(encode_row(row) for row in history.files[path]).encode("utf-8") for path in sorted(history.files)}
    everything = gzip.compress(b"".join(files.values()), mtime=0)
    index = {
        "kind": INDEX_KIND,
        "schema": 1,
        "branch": history.branch,
        "commit": history.commit,
        "rows": len(history),
        "all": ALL_FILE,
        "files": [
            {"path": path, "rows": len(history.files[path]), "bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
            for path, raw in files.items()
        ],
    }
    files[ALL_FILE] = everything
    files[INDEX_FILE] = (json.dumps(index, sort_keys=True, indent=1) + "\n").encode("utf-8")
    return files


# -- the git edge ----------------------------------------------------------------------------


def git_auth_env(remote: str, token: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """Extra environment giving git ``token`` for an https remote, through git's own
    ``GIT_CONFIG_*`` variables: never on a command line, never in a config file on disk."""
    parts = urllib.parse.urlsplit(remote)
    if not token or parts.scheme not in ("http", "https"):
        return {}
    count = int(environ.get("GIT_CONFIG_COUNT", "0") or 0)
    secret = base64.b64encode(f"x-access-token:{token}".encode("utf-8")).decode("ascii")
    return {
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": f"http.{parts.scheme}://{parts.netloc}/.extraheader",
        f"GIT_CONFIG_VALUE_{count}": f"AUTHORIZATION: basic {secret}",
    }


def _is_url(remote: str) -> bool:
    return "://" in remote or (":" in remote.split("/", 1)[0] and not remote.startswith("/"))


class DataBranch:
    """One data branch of one remote, worked on in a disposable clone at ``workdir``."""

    def __init__(
        self, remote: str, branch: str, workdir: Path, token: str | None = None, timeout: float = 600.0
    ) -> None:
        if not remote:
            raise PipelineError("no history remote given (a git URL or a local path)")
        self.remote = remote if _is_url(remote) else str(Path(remote).resolve())
        self.branch = branch
        self.workdir = Path(workdir)
        self.timeout = timeout
        self._env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **git_auth_env(self.remote, token, os.environ)}
        self._token = token

    def _fail(self, reason: str, missing: bool = False) -> HistoryUnavailable:
        if self._token:
            reason = reason.replace(self._token, "***")
        return HistoryUnavailable(self.remote, self.branch, reason, missing=missing)

    def _git(self, *args: str, ok: Sequence[int] = (0,), inside: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["git", "-C", str(self.workdir), *args] if inside else ["git", *args]
        try:
            done = programs.run(command, env=self._env, capture_output=True, text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise self._fail(f"git {args[0]} did not finish in {self.timeout:.0f} s") from None
        except OSError as exc:
            raise self._fail(f"cannot run git: {exc}") from None
        if done.returncode not in ok:
            lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            # git's first fatal line names the cause; the lines after it are advice
            detail = next((line for line in lines if line.startswith(("fatal:", "error:"))), None)
            detail = detail or (lines[-1] if lines else f"exit status {done.returncode}")
            raise self._fail(f"git {args[0]} failed: {detail}")
        return done

    def _clear(self) -> None:
        """Remove the previous clone at ``workdir``, and only if it is one this class made."""
        if self.workdir.exists() and any(self.workdir.iterdir()):
            mark = programs.run(
                ["git", "-C", str(self.workdir), "config", "--local", "--get", _CACHE_MARK],
                capture_output=True, text=True, env=self._env,
            )
            if mark.stdout.strip() != "true" or not (self.workdir / ".git").is_dir():
                raise PipelineError(f"{self.workdir} is not a history clone made by the tracker; refusing to replace it")
            shutil.rmtree(self.workdir)
        self.workdir.parent.mkdir(parents=True, exist_ok=True)

    def fetch(self, first_run: bool = False) -> History:
        """The branch's history, in a fresh clone.  A missing branch is an error unless
        ``first_run``; an unreachable remote, a failed clone or a malformed file always is."""
        self._clear()
        # the branch is data: a link in it is checked out as a plain file holding the link's text
        config = ("-c", f"{_CACHE_MARK}=true", "-c", "core.symlinks=false")
        found = self._git("ls-remote", "--exit-code", self.remote, f"refs/heads/{self.branch}", ok=(0, 2), inside=False)
        if found.returncode == 2:
            if not first_run:
                raise self._fail(
                    "the data branch does not exist; the first run must say so (--first-run, or the"
                    " NIGHTLY_FIRST_RUN variable in the workflow)",
                    missing=True,
                )
            self._git("init", "--quiet", f"--initial-branch={self.branch}", str(self.workdir), inside=False)
            for key_value in config[1::2]:
                self._git("config", *key_value.split("=", 1))
            self._git("remote", "add", "origin", self.remote)
            return History(branch=self.branch)
        self._git("clone", "--quiet", "--no-tags", "--single-branch", f"--branch={self.branch}", *config,
                  "--", self.remote, str(self.workdir), inside=False)
        commit = self._git("rev-parse", "HEAD").stdout.strip()
        return History(files=self._read_files(), commit=commit, branch=self.branch)

    def _read_files(self) -> dict[str, tuple[Row, ...]]:
        files = {}
        folder = self.workdir / HISTORY_DIR
        for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else ():
            relative = f"{HISTORY_DIR}/{path.name}"
            if path.is_symlink() or not path.is_file():
                raise InvalidRecords(relative, "not a regular file")
            files[relative] = parse_lines(path.read_text(encoding="utf-8"), f"{self.branch}:{relative}")
        return files

    def append(self, history: History, new: Mapping[str, Sequence[Row]], message: str) -> History:
        """Append ``new`` to the month files and commit (locally; :meth:`push` publishes)."""
        for relative, rows in new.items():
            path = self.workdir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            ends_open = path.exists() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
            with open(path, "a", encoding="utf-8") as handle:
                if ends_open:
                    handle.write("\n")
                handle.writelines(encode_row(row) for row in rows)
        readme = self.workdir / "README.md"
        if not readme.exists():
            readme.write_text(_README, encoding="utf-8")
        self._git("add", "--", "README.md", *new)
        self._git(*_IDENTITY, "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m", message)
        return extended(history, new, self._git("rev-parse", "HEAD").stdout.strip())

    def push(self) -> None:
        """Publish the local commits; a remote that moved meanwhile is an error (fetch again)."""
        self._git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}")
