"""The results store: every attempt ever made, in sqlite under out/, safe against kill -9.

sqlite in WAL mode with ``synchronous=FULL`` and one transaction per write: a killed process
leaves every committed row intact and never a half-written one.  Each row keeps the full
``Result.to_json()`` plus the columns the queries need.  A content key (sha256 of the row's
canonical JSON) is UNIQUE, which makes folding shard exports in idempotent.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import PipelineError, StoreBusy
from ..engine.net import atomic_write
from ..records import NOT_APPLICABLE, VERDICTS, Result, sortable_utc

STORE_NAME = "results.sqlite"
LOCK_NAME = ".lock"
EXPORT_KIND = "wheel-repro-results"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    content_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    interpreter TEXT NOT NULL,
    status TEXT NOT NULL,
    base TEXT NOT NULL,
    finished TEXT NOT NULL,
    seconds REAL NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_project ON results (name, interpreter, finished);
CREATE INDEX IF NOT EXISTS results_release ON results (name, version, interpreter, base, finished);
"""


def base_of(result: Result) -> str:
    """The environment base fingerprint a result was built in ("" when it never got one)."""
    return result.environment.base if result.environment else ""


def build_seconds(result: Result) -> float:
    """How long the result took to make: its builds, else its start-to-finish time."""
    total = sum(build.seconds for build in result.builds)
    if total > 0:
        return total
    try:
        started = datetime.fromisoformat(sortable_utc(result.started).replace("Z", "+00:00"))
        finished = datetime.fromisoformat(sortable_utc(result.finished).replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return max((finished - started).total_seconds(), 0.0)


def row_json(result: Result, base: str) -> dict[str, Any]:
    """The exported form of one stored row: the public result plus the base it was planned with."""
    return {"base": base, "result": result.to_json()}


def canonical_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as it is keyed, exported and kept in the history: exactly ``base`` and ``result``.

    A row without a base, or with extra keys, gets the same key as the row it is exported as,
    so folding an export (or the history) back in never duplicates it.
    """
    return {"base": str(row.get("base") or ""), "result": row["result"]}


def content_key(row: Mapping[str, Any]) -> str:
    canonical = json.dumps(canonical_row(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Streak:
    """Consecutive nights a release ended in the same failure, and the last of them (YYYY-MM-DD)."""

    status: str
    nights: int
    last: str


@dataclass(frozen=True)
class Snapshot:
    """What the planner needs to know about the past, read once before a run.

    ``verdicts`` maps (name, version, interpreter, base) to the latest verdict;
    ``judged`` holds the (name, version, interpreter) with a verdict in any environment;
    ``releases`` / ``projects`` / ``names`` what was ever attempted, errors included;
    ``streaks`` maps (name, version, interpreter, base) to the trailing failure streak;
    ``durations`` maps (name, interpreter) to the latest known seconds;
    ``last_tried`` maps (name, version, interpreter, base) to the day (YYYY-MM-DD) of its latest attempt;
    ``not_applicable`` holds the (name, version, interpreter, base) already recorded as excluded by
    the release's Requires-Python (never a verdict, never an attempt to retry).
    """

    verdicts: Mapping[tuple[str, str, str, str], str]
    judged: frozenset[tuple[str, str, str]]
    releases: frozenset[tuple[str, str, str]]
    projects: frozenset[tuple[str, str]]
    names: frozenset[str]
    streaks: Mapping[tuple[str, str, str, str], Streak]
    durations: Mapping[tuple[str, str], float]
    last_tried: Mapping[tuple[str, str, str, str], str] = field(default_factory=dict)
    not_applicable: frozenset[tuple[str, str, str, str]] = frozenset()

    @classmethod
    def empty(cls) -> Snapshot:
        return cls({}, frozenset(), frozenset(), frozenset(), frozenset(), {}, {}, {})


class Store:
    """An open results store; use as a context manager or call ``close()``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE ... COMMIT), not implicit.
        # check_same_thread=False + our lock: the nightly's build threads record their own results.
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
        self._lock = threading.RLock()
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._db.execute(statement)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise PipelineError(f"{self.path} is not a results store: {exc}") from None

    @classmethod
    def open(cls, out_dir: Path) -> Store:
        return cls(Path(out_dir) / STORE_NAME)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:  # a full disk or a locked file: say which store, in one line
                raise PipelineError(f"cannot write {self.path}: {exc}") from None

    # -- writes ----------------------------------------------------------------------------

    def _insert(self, row: Mapping[str, Any]) -> bool:
        result = Result.from_json(row["result"])
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO results (content_key, name, version, interpreter, status, base,"
            " finished, seconds, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                content_key(row),
                result.name,
                result.version,
                result.interpreter,
                result.status,
                str(row.get("base") or ""),
                sortable_utc(result.finished),
                build_seconds(result),
                json.dumps(row["result"], sort_keys=True, ensure_ascii=False),
            ),
        )
        return cursor.rowcount == 1

    def add(self, result: Result, base: str | None = None) -> bool:
        """Keep one attempt (committed before returning); False when this exact row is already in."""
        with self._transaction():
            return self._insert(row_json(result, base_of(result) if base is None else base))

    def add_rows(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Keep exported rows in one transaction; returns how many were new."""
        with self._transaction():
            return sum(self._insert(row) for row in rows)

    # -- reads -----------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM results")[0][0])

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _results(self, sql: str, params: Sequence[Any] = ()) -> list[Result]:
        return [Result.from_json(json.loads(text)) for (text,) in self._rows(sql, params)]

    def all_results(self) -> list[Result]:
        """Every attempt, oldest first (what the site renders from)."""
        return self._results("SELECT json FROM results ORDER BY finished, id")

    def latest_statuses(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(project, interpreter) -> (version, status) of the latest verdict, without parsing JSON."""
        marks = ",".join("?" * len(VERDICTS))
        latest: dict[tuple[str, str], tuple[str, str]] = {}
        for name, interpreter, version, status in self._rows(
            f"SELECT name, interpreter, version, status FROM results WHERE status IN ({marks})"
            " ORDER BY finished, id",
            VERDICTS,
        ):
            latest[(name, interpreter)] = (version, status)
        return latest

    def snapshot(self) -> Snapshot:
        """Everything the planner reads, in one pass over the indexed columns."""
        verdicts: dict[tuple[str, str, str, str], str] = {}
        releases: set[tuple[str, str, str]] = set()
        durations: dict[tuple[str, str], float] = {}
        trail: dict[tuple[str, str, str, str], list[tuple[str, str]]] = {}
        last_tried: dict[tuple[str, str, str, str], str] = {}
        not_applicable: set[tuple[str, str, str, str]] = set()
        for name, version, interpreter, base, status, finished, seconds in self._rows(
            "SELECT name, version, interpreter, base, status, finished, seconds FROM results"
            " ORDER BY finished, id"
        ):
            key = (name, version, interpreter, base)
            if status == NOT_APPLICABLE:
                not_applicable.add(key)
                continue
            releases.add((name, version, interpreter))
            last_tried[key] = finished[:10]
            if status == "error":
                continue
            verdicts[key] = status
            trail.setdefault(key, []).append((status, finished))
            if seconds > 0:
                durations[(name, interpreter)] = seconds
        streaks = {}
        for key, rows in trail.items():
            streak = _streak(list(reversed(rows)))
            if streak is not None:
                streaks[key] = streak
        return Snapshot(
            verdicts=verdicts,
            judged=frozenset(k[:3] for k in verdicts),
            releases=frozenset(releases),
            projects=frozenset((n, i) for n, _, i in releases),
            names=frozenset(n for n, _, _ in releases),
            streaks=streaks,
            durations=durations,
            last_tried=last_tried,
            not_applicable=frozenset(not_applicable),
        )

    # -- shards ----------------------------------------------------------------------------

    def export(self, dest_dir: Path, label: str, since_id: int = 0, filename: str | None = None) -> Path:
        """Write rows with id > ``since_id`` to a new uniquely named JSON file in ``dest_dir``
        (or to ``filename`` there, for the one whole-store export a site publishes)."""
        rows = [
            {"base": base, "result": json.loads(text)}
            for base, text in self._rows("SELECT base, json FROM results WHERE id > ? ORDER BY id", (since_id,))
        ]
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label) or "results"
        dest = Path(dest_dir) / (filename or f"results-{safe}-{stamp}-{uuid.uuid4().hex[:12]}.json")
        atomic_write(dest, json.dumps({"kind": EXPORT_KIND, "schema": 1, "rows": rows}).encode("utf-8"))
        return dest

    def last_id(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(id), 0) FROM results")[0][0])

    def merge(self, files: Iterable[Path]) -> int:
        """Fold exported files in; returns how many rows were new (merging twice adds nothing)."""
        added = 0
        for path in files:
            added += self.add_rows(read_export(Path(path)))
        return added


def _streak(rows_newest_first: Sequence[tuple[str, str]]) -> Streak | None:
    if not rows_newest_first or rows_newest_first[0][0] not in ("build-failed", "timeout"):
        return None
    status, last = rows_newest_first[0][0], rows_newest_first[0][1][:10]
    nights: set[str] = set()
    for row_status, finished in rows_newest_first:
        if row_status != status:
            break
        nights.add(finished[:10])
    return Streak(status=status, nights=len(nights), last=last)


def read_export(path: Path) -> list[dict[str, Any]]:
    """The rows of one export file; PipelineError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineError(f"cannot read results file {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != EXPORT_KIND or not isinstance(data.get("rows"), list):
        raise PipelineError(f"{path} is not a results export (expected kind {EXPORT_KIND!r})")
    for row in data["rows"]:
        try:
            Result.from_json(row["result"])
        except (KeyError, TypeError, ValueError) as exc:
            raise PipelineError(f"{path}: malformed result row ({exc})") from None
    return data["rows"]


class RunLock:
    """An exclusive lock on out/.lock: one nightly (or merge) per out/ at a time.

    flock is released by the kernel when the holder dies, so a kill -9 never leaves it stuck.
    """

    def __init__(self, out_dir: Path, wait: bool = False) -> None:
        self.path = Path(out_dir) / LOCK_NAME
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if self.wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreBusy(
                f"another run (pid {holder}) holds {self.path}; wait for it to finish or pass --wait"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
