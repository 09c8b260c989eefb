"""`nox -s nightly`: the watched lists x every interpreter, incremental, resumable, shardable.

The run is: lock out/ -> read lists (and take this shard's slice) -> find interpreters ->
resolve latest versions concurrently -> plan (pure, see plan.py) -> build on --jobs threads,
recording each attempt as it ends -> export (shards) -> render the site -> summary.
The engine (resolve, check, interpreters) is passed in, so this module never imports it;
the command line builds the real one (pipeline.nightly.engine) and the renderer.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from ..engine.net import Retry
from ..engine.options import CheckOptions
from ..engine.outcome import not_applicable_result
from ..errors import UsageError
from ..records import Result, utcnow
from .lists import LISTS_DIR, ListEntry, load_lists
from .plan import Changes, Plan, Skip, Slot, Task, changes, count_statuses, pair_up, plan_pairs, select_shard
from .schedule import Check, Reporter, Resolve, Scheduler, error_result, resolve_all
from .store import RunLock, Store

Render = Callable[[list[Result], Path], None]


@dataclass(frozen=True)
class Engine:
    """What the nightly needs from the double-build engine.

    ``find_slots(pythons)`` lists the interpreters to build with (the default set found when empty),
    or a :class:`SlotSearch` that also says which were not found;
    ``resolve(name, version_or_None, index_url, pythons)`` gives the Release pip picks on each
    interpreter version (X.Y.Z), or raises PipelineError;
    ``check(release, slot)`` builds twice and returns the Result.
    """

    find_slots: Callable[[Sequence[str]], "Sequence[Slot] | SlotSearch"]
    resolve: Resolve
    check: Check


@dataclass(frozen=True)
class SlotSearch:
    """The interpreters found, and a line naming the ones that were not (with how to install them)."""

    slots: tuple[Slot, ...]
    missing: str = ""


@dataclass(frozen=True)
class NightlyOptions:
    """A night's run; ``check`` is what each check is asked (its ``out`` holds caches, envs and kept builds)."""

    out_dir: Path = Path("out")
    check: CheckOptions = CheckOptions()
    lists: tuple[Path, ...] = ()
    lists_dir: Path = LISTS_DIR
    pythons: tuple[str, ...] = ()
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    shard: tuple[int, int] | None = None
    force: bool = False
    wait: bool = False
    resolve_jobs: int = 8
    retry: Retry = Retry(attempts=3)
    tick: float = 5.0
    export_dir: Path | None = None
    today: date | None = None

    @property
    def index_url(self) -> str:
        return self.check.index_url


@dataclass(frozen=True)
class Summary:
    """What a run did, for the end-of-run report."""

    projects: int
    interpreters: tuple[str, ...]
    built: tuple[Result, ...]
    failed_resolution: tuple[Result, ...]
    skipped: tuple[Skip, ...]
    unknown: tuple[str, ...]
    unresolved: tuple[str, ...]
    changes: Changes
    phases: dict[str, float]
    total: float
    export: Path | None = None
    rendered: bool = False
    not_applicable: tuple[Result, ...] = ()
    missing: str = ""

    @property
    def counts(self) -> dict[str, int]:
        return count_statuses(r.status for r in self.failed_resolution + self.built + self.not_applicable)

    @property
    def waiting(self) -> tuple[Skip, ...]:
        return tuple(s for s in self.skipped if "waiting a week" in s.reason)

    def lines(self) -> list[str]:
        counts = ", ".join(f"{n} {status}" for status, n in self.counts.items()) or "nothing built"
        out = [
            f"nightly: {self.projects} projects x {len(self.interpreters)} interpreters"
            f" ({', '.join(self.interpreters)}): {len(self.built)} built, {len(self.skipped)} up to date or waiting,"
            f" {len(self.unknown) + len(self.unresolved)} not resolved",
            f"results: {counts}",
        ]
        if self.missing:
            out.append(self.missing)
        if self.not_applicable:
            per = Counter(r.interpreter for r in self.not_applicable)
            out.append("not applicable (Requires-Python excludes the interpreter; nothing built): "
                       + ", ".join(f"{n} on {tag}" for tag, n in sorted(per.items())))
        for label, items in (("unknown in the index", self.unknown), ("could not resolve", self.unresolved)):
            out += [f"{label}: {item}" for item in items]
        out += [f"waiting: {s.name} {s.version} {s.interpreter}: {s.reason}" for s in self.waiting]
        out += [f"new unreproducible: {n} {v} {i}" for n, i, v in self.changes.new_unreproducible]
        out += [f"newly fixed: {n} {v} {i}" for n, i, v in self.changes.newly_fixed]
        phases = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.phases.items())
        out.append(f"time: {self.total:.1f}s total ({phases})")
        if self.export:
            out.append(f"exported this run's results to {self.export}")
        return out


class _Phases:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._start = time.monotonic()

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.times[name] = now - self._start
        self._start = now


def run_nightly(
    engine: Engine,
    options: NightlyOptions,
    entries: Sequence[ListEntry] | None = None,
    reporter: Reporter | None = None,
    render: Render | None = None,
) -> Summary:
    """One nightly run over ``options.out_dir``; raises StoreBusy when another run holds it."""
    begun = time.monotonic()
    phases = _Phases()
    with RunLock(options.out_dir, wait=options.wait), Store.open(options.out_dir) as store:
        chosen = list(entries) if entries is not None else load_lists(options.lists or None, options.lists_dir)
        if options.shard:
            chosen = select_shard(chosen, *options.shard)
        search = engine.find_slots(options.pythons)
        if not isinstance(search, SlotSearch):
            search = SlotSearch(tuple(search))
        slots = list(search.slots)
        if not slots:
            wanted = ", ".join(options.pythons) or "any"
            raise UsageError(f"no Python interpreter found (asked for: {wanted}). {search.missing}".strip())
        snapshot = store.snapshot()
        before = store.latest_statuses()
        first_new = store.last_id() + 1
        phases.mark("setup")

        pythons = tuple(dict.fromkeys(slot.python for slot in slots))
        resolved = resolve_all(chosen, engine.resolve, options.index_url, options.resolve_jobs, options.retry, pythons)
        recorded: list[Result] = []
        for failure in (r for r in resolved if r.releases is None):
            for slot in slots:
                result = error_result(
                    failure.entry.name, failure.entry.version or "", slot, failure.message, options.check, utcnow()
                )
                store.add(result, base=slot.base)
                recorded.append(result)
        phases.mark("resolve")

        pairs = pair_up((r.releases for r in resolved if r.releases is not None), slots)
        plan: Plan = plan_pairs(pairs, snapshot, options.force, options.today or utc_today())
        inapplicable: list[Result] = []
        for item in plan.not_applicable:  # recorded once, so the site can say why the cell is empty
            result = not_applicable_result(item.release, item.slot.python, item.slot.interpreter, item.reason,
                                           options.check)
            store.add(result, base=item.slot.base)
            inapplicable.append(result)
        phases.mark("plan")

        def record(task: Task, result: Result) -> None:
            store.add(result, base=task.slot.base)

        scheduler = Scheduler(
            engine.check,
            record,
            jobs=options.jobs,
            reporter=reporter,
            retry=options.retry,
            tick=options.tick,
            options=options.check,
        )
        built = scheduler.run(plan.tasks)
        phases.mark("build")

        export = None
        if options.export_dir is not None:
            export = store.export(options.export_dir, export_label(options, slots), since_id=first_new - 1)
        rendered = False
        if render is not None:
            render(store.all_results(), options.out_dir / "site")
            rendered = True
        phases.mark("render")
        after = store.latest_statuses()

    return Summary(
        projects=len(chosen),
        interpreters=tuple(s.interpreter for s in slots),
        built=tuple(built),
        failed_resolution=tuple(recorded),
        skipped=plan.skipped,
        unknown=tuple(r.message for r in resolved if r.unknown),
        unresolved=tuple(r.message for r in resolved if r.releases is None and not r.unknown),
        changes=changes(before, after),
        phases=phases.times,
        total=time.monotonic() - begun,
        export=export,
        rendered=rendered,
        not_applicable=tuple(inapplicable),
        missing=search.missing,
    )


def export_label(options: NightlyOptions, slots: Sequence[Slot]) -> str:
    """A readable stem for export files: shard and interpreters (uniqueness comes from a uuid)."""
    shard = f"shard{options.shard[0]}of{options.shard[1]}" if options.shard else "all"
    return f"{shard}-{'-'.join(s.interpreter for s in slots)}"


def utc_today() -> date:
    return datetime.now(timezone.utc).date()
