"""The site's view model: pure functions from every recorded attempt to what the pages show.

Nothing here touches the disk or the clock.  The rules that matter for trust live here:
the latest *verdict* per (project, interpreter) is what a cell shows, and an ``error`` (the
tracker's own failure) never replaces a verdict; it is shown separately as "retrying".  A newer
``not-applicable`` (the release's Requires-Python excludes that Python) empties the cell of any
verdict: it is grey, counted apart, never a verdict.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from packaging.version import InvalidVersion, Version

from ..agreement import agreement
from ..errors import InvalidRecords
from ..records import (NOT_APPLICABLE, STATUSES, UPSTREAM_REPRODUCED, VERDICTS, Agreement, Artifact, Environment,
                       Result, sortable_utc)

#: what a cell with no verdict yet shows; not a record status
UNCHECKED = "unchecked"
#: display order of statuses in counts and legends (verdicts first, then the non-verdicts)
STATUS_ORDER: tuple[str, ...] = (*VERDICTS, NOT_APPLICABLE, UNCHECKED)


@dataclass(frozen=True)
class Cell:
    """What one (project, interpreter) shows: the latest verdict, or a newer not-applicable record
    (never both), and a newer failed attempt."""

    verdict: Result | None
    pending: Result | None = None
    not_applicable: Result | None = None

    @property
    def status(self) -> str:
        if self.not_applicable is not None:
            return NOT_APPLICABLE
        return self.verdict.status if self.verdict else UNCHECKED

    @property
    def shown(self) -> Result | None:
        """The record the cell links to."""
        return self.not_applicable or self.verdict or self.pending


@dataclass(frozen=True)
class Change:
    """A cell whose verdict changed: ``before`` is None when the cell had no verdict yet."""

    name: str
    interpreter: str
    before: Result | None
    after: Result

    @property
    def kind(self) -> str:
        was = self.before.status if self.before else UNCHECKED
        if was == "reproducible" and self.after.status != "reproducible":
            return "regression"
        if self.after.status == "reproducible" and was != "reproducible":
            return "fix" if self.before else "new"
        return "change" if self.before else "new"


@dataclass(frozen=True)
class TrendPoint:
    """The state of every cell's latest verdict at the end of one day."""

    day: str
    reproducible: int
    built: int  # reproducible + unreproducible: the wheel was built twice and compared
    checked: int  # cells with any verdict

    @property
    def share(self) -> float:
        return self.reproducible / self.built if self.built else 0.0


@dataclass(frozen=True)
class Attempts:
    """One (version, interpreter) on a project page: the verdict (or the not-applicable record), a
    pending retry, older attempts."""

    version: str
    interpreter: str
    current: Result | None
    pending: Result | None
    earlier: tuple[Result, ...]


@dataclass(frozen=True)
class Project:
    name: str
    slug: str
    history: tuple[Result, ...]  # every attempt, oldest first
    cells: Mapping[str, Cell]
    changes: tuple[Change, ...]  # every verdict change, oldest first
    latest_version: str  # the newest version any cell shows (a cell showing another says which)


@dataclass(frozen=True)
class StatusCounts:
    total: int
    by_status: Mapping[str, int]

    def share(self, status: str) -> float:
        """Percent of the cells that apply (``total``); not-applicable cells are counted apart."""
        return 100.0 * self.by_status.get(status, 0) / self.total if self.total else 0.0


# -- ordering -----------------------------------------------------------------------------------

_SAFE = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_INTERPRETER = re.compile(r"([a-z]+)(\d)(\d+)(.*)")


@lru_cache(maxsize=65536)
def slug(text: str) -> str:
    """A file name for a project or version; anything outside [a-z0-9._-] gets a hash suffix."""
    if _SAFE.fullmatch(text) and ".." not in text:
        return text
    cleaned = re.sub(r"[^a-z0-9._-]+", "_", text.lower()).strip("._")[:60] or "x"
    return f"{cleaned}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def interpreter_key(tag: str) -> tuple:
    """cp39 < cp310 < ... < cp313 < cp313t; CPython first, then other implementations."""
    match = _INTERPRETER.fullmatch(tag)
    if not match:
        return (2, tag, 0, 0, "")
    impl, major, minor, rest = match.groups()
    return (0 if impl == "cp" else 1, impl, int(major), int(minor), rest)


def order_interpreters(tags: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(tags), key=interpreter_key))


@lru_cache(maxsize=65536)
def version_key(version: str) -> tuple:
    """Newest-last ordering for versions; unparsable versions sort before any valid one."""
    try:
        return (1, Version(version), version)
    except InvalidVersion:
        return (0, version, version)


def result_order(result: Result) -> tuple:
    """A total order on attempts: when it finished, then tie-breakers so input order never matters."""
    shas = tuple(b.sha256 or "" for b in result.builds)
    return (
        sortable_utc(result.finished),
        sortable_utc(result.started),
        version_key(result.version),
        STATUSES.index(result.status),
        result.message,
        shas,
        result.reproduce,
    )


# -- the per-cell rules -------------------------------------------------------------------------


def latest_cell(attempts: Sequence[Result]) -> Cell:
    """``attempts`` oldest first: the newest verdict or not-applicable record, plus the newest error if
    it came after it."""
    verdict = not_applicable = None
    for result in attempts:
        if result.is_verdict:
            verdict, not_applicable = result, None
        elif result.status == NOT_APPLICABLE:
            verdict, not_applicable = None, result
    pending = attempts[-1] if attempts and attempts[-1].status == "error" else None
    return Cell(verdict, pending, not_applicable)


def verdict_changes(name: str, interpreter: str, attempts: Sequence[Result]) -> list[Change]:
    """Every change of verdict in one cell's history (errors skipped), oldest first."""
    changes: list[Change] = []
    before: Result | None = None
    for result in attempts:
        if not result.is_verdict:
            continue
        if before is None or before.status != result.status:
            changes.append(Change(name, interpreter, before, result))
        before = result
    return changes


def build_projects(results: Iterable[Result]) -> tuple[tuple[Project, ...], tuple[str, ...]]:
    """Group every attempt by project; returns the projects by name and the interpreters present."""
    grouped: dict[str, list[Result]] = defaultdict(list)
    tags: set[str] = set()
    for result in results:
        if result.status not in STATUSES:
            raise InvalidRecords("results", f"{result.name}: unknown status {result.status!r}")
        grouped[result.name].append(result)
        tags.add(result.interpreter)
    projects = []
    slugs: set[str] = set()
    for name in sorted(grouped):
        history = sorted(grouped[name], key=result_order)
        by_cell: dict[str, list[Result]] = defaultdict(list)
        for result in history:
            by_cell[result.interpreter].append(result)
        cells = {tag: latest_cell(by_cell[tag]) for tag in order_interpreters(by_cell)}
        changes = [c for tag in cells for c in verdict_changes(name, tag, by_cell[tag])]
        changes.sort(key=lambda c: (result_order(c.after), interpreter_key(c.interpreter)))
        page = slug(name)
        if page in slugs:  # two hostile names cleaning to the same text: keep both pages apart
            page = f"{page}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"
        slugs.add(page)
        shown = [cell.shown.version for cell in cells.values() if cell.shown is not None]
        latest = max(shown, key=version_key) if shown else history[-1].version
        projects.append(Project(name, page, tuple(history), cells, tuple(c for c in changes if c.before), latest))
    return tuple(projects), order_interpreters(tags)


def project_slots(project: Project, interpreters: Sequence[str]) -> list[Attempts]:
    """Every version x interpreter tried, newest version first, interpreters in column order."""
    by_slot: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for result in project.history:
        by_slot[(result.version, result.interpreter)].append(result)
    column = {tag: i for i, tag in enumerate(interpreters)}
    keys = sorted(by_slot, key=lambda k: (version_key(k[0]), -column.get(k[1], len(column))), reverse=True)
    slots = []
    for version, tag in keys:
        attempts = by_slot[(version, tag)]
        cell = latest_cell(attempts)
        current = cell.not_applicable or cell.verdict
        shown = {id(current), id(cell.pending)}
        earlier = tuple(r for r in reversed(attempts) if id(r) not in shown)
        slots.append(Attempts(version, tag, current, cell.pending, earlier))
    return slots


@dataclass(frozen=True)
class VersionGroup:
    """A release on a project page: its sdist (from its newest result) and its slots."""

    version: str
    sdist: Artifact | None
    slots: tuple[Attempts, ...]


def group_versions(slots: Sequence[Attempts]) -> list[VersionGroup]:
    groups: list[VersionGroup] = []
    for slot in slots:
        if not groups or groups[-1].version != slot.version:
            groups.append(VersionGroup(slot.version, None, ()))
        groups[-1] = VersionGroup(slot.version, None, groups[-1].slots + (slot,))
    out = []
    for group in groups:
        shown = [r for s in group.slots for r in (s.current, s.pending) if r is not None and r.sdist]
        sdist = max(shown, key=result_order).sdist if shown else None
        out.append(VersionGroup(group.version, sdist, group.slots))
    return out


def shown_results(slots: Sequence[Attempts]) -> list[Result]:
    return [r for s in slots for r in (s.current, s.pending) if r is not None]


def common_controls(slots: Sequence[Attempts]) -> list[tuple[str, str]]:
    """The controls most results on a page share (shown once; results that differ show theirs)."""
    tally: Counter[tuple[tuple[str, str], ...]] = Counter(
        tuple(sorted((k, str(v)) for k, v in r.controls.items())) for r in shown_results(slots) if r.controls
    )
    if not tally:
        return []
    return list(max(sorted(tally), key=lambda k: tally[k]))


def page_environments(slots: Sequence[Attempts]) -> list[Environment]:
    found = {r.environment.fingerprint: r.environment for r in shown_results(slots) if r.environment}
    return sorted(found.values(), key=lambda e: (interpreter_key(e.interpreter), e.fingerprint))


# -- summaries ----------------------------------------------------------------------------------


def count_cells(cells: Iterable[Cell]) -> StatusCounts:
    """Cells per status; ``total`` leaves out the not-applicable ones, which are no verdict to share."""
    counter = Counter(cell.status for cell in cells)
    applicable = sum(n for status, n in counter.items() if status != NOT_APPLICABLE)
    return StatusCounts(applicable, {s: counter.get(s, 0) for s in STATUS_ORDER})


def summarize(projects: Sequence[Project], interpreters: Sequence[str]) -> tuple[StatusCounts, dict[str, StatusCounts]]:
    """StatusCounts over every (project, interpreter) cell, overall and per interpreter column."""
    overall = count_cells(c for p in projects for c in p.cells.values())
    per = {t: count_cells(p.cells[t] for p in projects if t in p.cells) for t in interpreters}
    return overall, per


def pending_cells(projects: Sequence[Project]) -> int:
    return sum(1 for p in projects for c in p.cells.values() if c.pending)


def trend(projects: Sequence[Project], limit: int = 400) -> list[TrendPoint]:
    """Reproducible share of the latest verdicts as of the end of each day that saw a verdict."""
    events = sorted(
        (sortable_utc(r.finished)[:10], p.name, r.interpreter, r.status)
        for p in projects for r in p.history if r.is_verdict or r.status == NOT_APPLICABLE
    )
    state: dict[tuple[str, str], str] = {}
    tally: Counter[str] = Counter()
    points: list[TrendPoint] = []
    for index, (day, name, tag, status) in enumerate(events):
        old = state.pop((name, tag), None)
        if old is not None:
            tally[old] -= 1
        if status != NOT_APPLICABLE:  # the cell no longer applies: it leaves the tally
            state[(name, tag)] = status
            tally[status] += 1
        if index + 1 == len(events) or events[index + 1][0] != day:
            built = tally["reproducible"] + tally["unreproducible"]
            points.append(TrendPoint(day, tally["reproducible"], built, len(state)))
    return points[-limit:]


def last_run_start(projects: Sequence[Project]) -> str:
    """Where "since last run" begins: the start of the newest day with a verdict."""
    newest = max((sortable_utc(r.finished) for p in projects for r in p.history if r.is_verdict), default="")
    return newest[:10] + "T00:00:00.000000Z" if newest else ""


def changes_since(projects: Sequence[Project], boundary: str) -> list[Change]:
    """Net change per cell between its verdict before ``boundary`` and its verdict now."""
    found: list[Change] = []
    for project in projects:
        for tag, cell in project.cells.items():
            after = cell.verdict
            if after is None or sortable_utc(after.finished) < boundary:
                continue
            before = None
            for result in reversed(project.history):
                if result.interpreter == tag and result.is_verdict and sortable_utc(result.finished) < boundary:
                    before = result
                    break
            if before is None or before.status != after.status:
                found.append(Change(project.name, tag, before, after))
    return found


def all_changes(projects: Sequence[Project]) -> list[Change]:
    """Every verdict change on the site, newest first (the feed's entries)."""
    changes = [c for p in projects for c in p.changes]
    changes.sort(key=lambda c: (result_order(c.after), c.name, interpreter_key(c.interpreter)), reverse=True)
    return changes


@dataclass(frozen=True)
class MethodFacts:
    """What the records say was controlled, over the latest verdicts: value -> how many results."""

    controls: Mapping[str, Mapping[str, int]]
    sandboxes: Mapping[str, int]
    offline: Mapping[str, int]
    unsandboxed: int
    total: int


def method_facts(projects: Sequence[Project]) -> MethodFacts:
    controls: dict[str, Counter[str]] = defaultdict(Counter)
    sandboxes: Counter[str] = Counter()
    offline: Counter[str] = Counter()
    total = 0
    for project in projects:
        for cell in project.cells.values():
            result = cell.verdict
            if result is None:
                continue
            total += 1
            for key, value in result.controls.items():
                controls[key][str(value)] += 1
            sandbox = result.isolation.sandbox if result.isolation else "unknown"
            sandboxes[sandbox] += 1
            offline[("yes" if result.isolation.offline else "no") if result.isolation else "unknown"] += 1
    return MethodFacts(
        controls={k: _by_count(controls[k]) for k in sorted(controls)},
        sandboxes=_by_count(sandboxes),
        offline=_by_count(offline),
        unsandboxed=sandboxes.get("none", 0),
        total=total,
    )


def _by_count(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def is_unsandboxed(result: Result) -> bool:
    return result.isolation is not None and result.isolation.sandbox == "none"


# -- agreement across interpreters -----------------------------------------------------------


def release_agreements(project: Project, interpreters: Sequence[str], only: str | None = None
                       ) -> dict[str, Agreement | None]:
    """Per version (or just ``only``): did every interpreter build the same pure wheel, over each
    interpreter's latest verdict on that version?  Every record of the version carries the answer
    in the API; the matrix shows it for the row's newest version."""
    latest: dict[tuple[str, str], Result] = {}
    for result in project.history:  # oldest first: the last verdict per (version, interpreter) stays
        if result.is_verdict and (only is None or result.version == only):
            latest[(result.version, result.interpreter)] = result
    by_version: dict[str, list[Result]] = defaultdict(list)
    for (version, _), result in latest.items():
        by_version[version].append(result)
    versions = {r.version for r in project.history} if only is None else {only}
    return {v: agreement(by_version.get(v, ()), interpreters) for v in versions}


# -- the index's own wheel (pipeline.upstream) ----------------------------------------------------


@dataclass(frozen=True)
class UpstreamCounts:
    """Over the latest verdicts: how the index's wheel compared, and with which rebuild.

    ``compared`` counts cells whose release publishes a wheel comparable with the rebuild (identical,
    equivalent or different); ``reproduced`` those identical or equivalent; ``matched`` those whose
    comparison used a rebuild in the toolchain inferred from the index's wheel (or needed none).
    """

    compared: int
    reproduced: int
    matched: int
    by_status: Mapping[str, int]


def upstream_counts(projects: Sequence[Project]) -> UpstreamCounts:
    statuses: Counter[str] = Counter()
    matched = 0
    for project in projects:
        for cell in project.cells.values():
            upstream = cell.verdict.upstream if cell.verdict else None
            if upstream is None:
                continue
            statuses[upstream.status] += 1
            chain = upstream.toolchain
            if upstream.status in UPSTREAM_COMPARED and chain is not None and chain.status in ("matched", "not-needed"):
                matched += 1
    compared = sum(statuses[s] for s in UPSTREAM_COMPARED)
    reproduced = sum(statuses[s] for s in UPSTREAM_REPRODUCED)
    return UpstreamCounts(compared, reproduced, matched, dict(sorted(statuses.items())))


#: upstream statuses where the index's wheel and the rebuild were compared member by member
UPSTREAM_COMPARED: tuple[str, ...] = ("identical", "equivalent", "different")
