"""The nightly's decisions as plain functions: which builds to run, why, in which order.

Nothing here touches the network, the disk or a clock: the caller passes the releases it
resolved, the interpreters it found, a :class:`~pipeline.nightly.store.Snapshot` of the past and "now".
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterable, Mapping, Sequence

from ..engine.requires import exclusion
from ..errors import UsageError
from .lists import ListEntry
from ..records import STATUSES, Release
from .store import Snapshot

#: after this many consecutive nights of the same build failure, wait WAIT before retrying
FAILURE_NIGHTS = 3
WAIT = timedelta(days=7)
#: verdicts that are retried each night (the cause may be a build dependency fixed since)
RETRIED = ("build-failed", "timeout")
#: the estimate for a build never seen before, when nothing at all is known
DEFAULT_SECONDS = 60.0


@dataclass(frozen=True)
class Slot:
    """One interpreter the run builds with: its tag, its X.Y.Z, its environment base fingerprint.

    ``handle`` is the engine's own interpreter object, passed back to it untouched.
    """

    interpreter: str
    python: str
    base: str
    handle: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Task:
    """One build the nightly will run, and why."""

    release: Release
    slot: Slot
    reason: str
    estimate: float

    @property
    def label(self) -> str:
        return f"{self.release.name} {self.release.version} {self.slot.interpreter}"


@dataclass(frozen=True)
class Skip:
    """One (release, interpreter) the nightly leaves alone, and why."""

    name: str
    version: str
    interpreter: str
    reason: str


@dataclass(frozen=True)
class Inapplicable:
    """A (release, interpreter) the release's Requires-Python excludes: recorded once, never built."""

    release: Release
    slot: Slot
    reason: str


@dataclass(frozen=True)
class Plan:
    tasks: tuple[Task, ...]
    skipped: tuple[Skip, ...]
    not_applicable: tuple[Inapplicable, ...] = ()


def parse_shard(text: str) -> tuple[int, int]:
    """``"3/16"`` -> (3, 16); UsageError unless 1 <= K <= N."""
    k, sep, n = text.partition("/")
    try:
        shard, total = int(k), int(n)
    except ValueError:
        shard, total = 0, 0
    if not sep or total < 1 or not 1 <= shard <= total:
        raise UsageError(f"--shard wants K/N with 1 <= K <= N, got {text!r}")
    return shard, total


def shard_of(name: str, total: int) -> int:
    """The 1-based shard a project belongs to: a hash of its canonical name, so a project never
    moves when others are added or removed (only N changes the split)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % total + 1


def select_shard(entries: Sequence[ListEntry], shard: int, total: int) -> list[ListEntry]:
    return [entry for entry in entries if shard_of(entry.name, total) == shard]


def estimate(snapshot: Snapshot, name: str, interpreter: str) -> float:
    """Past seconds for this project on this interpreter, else on any, else the median build."""
    known = snapshot.durations.get((name, interpreter))
    if known is not None:
        return known
    others = [s for (n, _), s in snapshot.durations.items() if n == name]
    if others:
        return max(others)
    if snapshot.durations:
        return statistics.median(snapshot.durations.values())
    return DEFAULT_SECONDS


def decide(
    release: Release, slot: Slot, snapshot: Snapshot, force: bool, today: date
) -> tuple[bool, str]:
    """Whether to build this release on this interpreter tonight, and the reason either way."""
    key = (release.name, release.version, slot.interpreter, slot.base)
    verdict = snapshot.verdicts.get(key)
    streak = snapshot.streaks.get(key)
    if force:
        return True, "forced (--force)"
    tried_today = snapshot.last_tried.get(key) == today.isoformat()
    if verdict is None:
        if key[:3] in snapshot.judged:
            return True, "environment changed"
        if key[:3] in snapshot.releases:
            if tried_today:  # the run already retried it with backoff; the next night tries again
                return False, "error earlier today (retried then); next try tomorrow"
            return True, "retry after an error"
        if (release.name, slot.interpreter) in snapshot.projects:
            return True, "new release"
        if release.name in snapshot.names:
            return True, "new interpreter"
        return True, "new project"
    if verdict not in RETRIED:
        return False, f"already {verdict}"
    if tried_today:
        return False, f"{verdict} earlier today; retried tomorrow"
    if streak is not None and streak.nights >= FAILURE_NIGHTS:
        retry_on = date.fromisoformat(streak.last) + WAIT
        if today < retry_on:
            return False, (
                f"{verdict} on {streak.nights} consecutive nights; waiting a week, next try {retry_on.isoformat()}"
            )
        return True, f"{verdict} {streak.nights} nights in a row; the week's wait is over"
    nights = streak.nights if streak else 0
    return True, f"retry {verdict} (night {nights + 1} of {FAILURE_NIGHTS})"


def plan_builds(
    releases: Iterable[Release],
    slots: Sequence[Slot],
    snapshot: Snapshot,
    force: bool = False,
    today: date | None = None,
) -> Plan:
    """Every release on every interpreter (the same release everywhere); see :func:`plan_pairs`."""
    return plan_pairs(((release, slot) for release in releases for slot in slots), snapshot, force, today)


def pair_up(resolutions: Iterable[Mapping[str, Release]], slots: Sequence[Slot]) -> list[tuple[Release, Slot]]:
    """Each project's release for each interpreter: the one resolved for that interpreter's version
    (a project can resolve to an older release on an older Python)."""
    return [(releases[slot.python], slot) for releases in resolutions for slot in slots if slot.python in releases]


def plan_pairs(
    pairs: Iterable[tuple[Release, Slot]],
    snapshot: Snapshot,
    force: bool = False,
    today: date | None = None,
) -> Plan:
    """Every (release, interpreter) pair, split into tasks (longest first), skips, and the pairs whose
    Requires-Python excludes the interpreter (a record says so once; they are never built, even forced)."""
    today = today or date.today()
    tasks: list[Task] = []
    skipped: list[Skip] = []
    inapplicable: list[Inapplicable] = []
    for release, slot in pairs:
        excluded = exclusion(release.requires_python, slot.python)
        if excluded:
            if (release.name, release.version, slot.interpreter, slot.base) in snapshot.not_applicable:
                skipped.append(Skip(release.name, release.version, slot.interpreter, f"not applicable: {excluded}"))
            else:
                inapplicable.append(Inapplicable(release, slot, excluded))
            continue
        build, reason = decide(release, slot, snapshot, force, today)
        if build:
            tasks.append(Task(release, slot, reason, estimate(snapshot, release.name, slot.interpreter)))
        else:
            skipped.append(Skip(release.name, release.version, slot.interpreter, reason))
    return Plan(tuple(longest_first(tasks)), tuple(skipped), tuple(inapplicable))


def longest_first(tasks: Iterable[Task]) -> list[Task]:
    """Start the longest builds first so the last minutes are not one long build alone;
    ties break by name so the order is the same every run."""
    return sorted(tasks, key=lambda t: (-t.estimate, t.release.name, t.release.version, t.slot.interpreter))


def eta(remaining: Sequence[float], running: Sequence[tuple[float, float]], jobs: int) -> float:
    """Seconds left: queued estimates plus what the running builds still need, over ``jobs``.

    ``running`` holds (estimate, elapsed) pairs.
    """
    left = sum(remaining) + sum(max(est - elapsed, 0.0) for est, elapsed in running)
    return left / max(jobs, 1)


@dataclass(frozen=True)
class Changes:
    """What moved between two runs' latest verdicts per (project, interpreter)."""

    new_unreproducible: tuple[tuple[str, str, str], ...]
    newly_fixed: tuple[tuple[str, str, str], ...]


def changes(
    before: Mapping[tuple[str, str], tuple[str, str]], after: Mapping[tuple[str, str], tuple[str, str]]
) -> Changes:
    """Compare (project, interpreter) -> (version, status) maps; entries are (name, interpreter, version)."""
    worse, fixed = [], []
    for key, (version, status) in sorted(after.items()):
        old = before.get(key)
        old_status = old[1] if old else None
        if status == "unreproducible" and old_status != "unreproducible":
            worse.append((key[0], key[1], version))
        elif status == "reproducible" and old_status is not None and old_status != "reproducible":
            fixed.append((key[0], key[1], version))
    return Changes(tuple(worse), tuple(fixed))


def count_statuses(statuses: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return {k: v for k, v in counts.items() if v}
