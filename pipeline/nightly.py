"""`nox -s nightly`: the watched lists x every interpreter, incremental, resumable, shardable.

The run is: lock out/ -> read lists (and take this shard's slice) -> find interpreters ->
resolve latest versions concurrently -> plan (pure, see plan.py) -> build on --jobs threads,
recording each attempt as it ends -> export (shards) -> render the site -> summary.
The engine (resolve, check, interpreters) is passed in, so this module never imports it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from pipeline.errors import PipelineError, UsageError
from pipeline.lists import LISTS_DIR, ListEntry, load_lists
from pipeline.plan import Changes, Plan, Skip, Slot, Task, changes, count_statuses, parse_shard, plan_builds, select_shard
from pipeline.records import Result
from pipeline.schedule import Check, Reporter, Resolve, Scheduler, error_result, resolve_all, utcnow
from pipeline.store import STORE_NAME, RunLock, Store

DEFAULT_INDEX = "https://pypi.org/simple/"
Render = Callable[[list[Result], Path], None]


@dataclass(frozen=True)
class Engine:
    """What the nightly needs from the double-build engine.

    ``find_slots(pythons)`` lists the interpreters to build with (all found when empty);
    ``resolve(name, version_or_None, index_url)`` gives a Release or raises PipelineError;
    ``check(release, slot)`` builds twice and returns the Result.
    """

    find_slots: Callable[[Sequence[str]], list[Slot]]
    resolve: Resolve
    check: Check


@dataclass(frozen=True)
class NightlyOptions:
    out_dir: Path = Path("out")
    lists: tuple[Path, ...] = ()
    lists_dir: Path = LISTS_DIR
    pythons: tuple[str, ...] = ()
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    shard: tuple[int, int] | None = None
    force: bool = False
    index_url: str = DEFAULT_INDEX
    wait: bool = False
    resolve_jobs: int = 8
    attempts: int = 3
    backoff: float = 1.0
    tick: float = 5.0
    export_dir: Path | None = None
    today: date | None = None
    # passed through to the engine's check, as in `nox -s check`
    timeout: float = 1800.0
    memory: int = 8 * 1024**3
    unsandboxed: bool = False
    find_links: tuple[str, ...] = ()
    #: where the engine keeps caches, environments and kept builds (default: out_dir)
    work_dir: Path | None = None


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

    @property
    def counts(self) -> dict[str, int]:
        return count_statuses(r.status for r in self.failed_resolution + self.built)

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
        slots = engine.find_slots(options.pythons)
        if not slots:
            wanted = ", ".join(options.pythons) or "any"
            raise UsageError(f"no Python interpreter found (asked for: {wanted})")
        snapshot = store.snapshot()
        before = store.latest_statuses()
        first_new = store.last_id() + 1
        phases.mark("setup")

        resolved = resolve_all(
            chosen, engine.resolve, options.index_url, options.resolve_jobs, options.attempts, options.backoff
        )
        recorded: list[Result] = []
        for failure in (r for r in resolved if r.release is None):
            for slot in slots:
                result = error_result(
                    failure.entry.name, failure.entry.version or "", slot, failure.message, options.index_url, utcnow()
                )
                store.add(result, base=slot.base)
                recorded.append(result)
        phases.mark("resolve")

        releases = [r.release for r in resolved if r.release is not None]
        plan: Plan = plan_builds(releases, slots, snapshot, options.force, options.today or utc_today())
        phases.mark("plan")

        def record(task: Task, result: Result) -> None:
            store.add(result, base=task.slot.base)

        scheduler = Scheduler(
            engine.check,
            record,
            jobs=options.jobs,
            reporter=reporter,
            attempts=options.attempts,
            backoff=options.backoff,
            tick=options.tick,
            index_url=options.index_url,
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
        unresolved=tuple(r.message for r in resolved if r.release is None and not r.unknown),
        changes=changes(before, after),
        phases=phases.times,
        total=time.monotonic() - begun,
        export=export,
        rendered=rendered,
    )


def export_label(options: NightlyOptions, slots: Sequence[Slot]) -> str:
    """A readable stem for export files: shard and interpreters (uniqueness comes from a uuid)."""
    shard = f"shard{options.shard[0]}of{options.shard[1]}" if options.shard else "all"
    return f"{shard}-{'-'.join(s.interpreter for s in slots)}"


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


# -- command line (the library above never prints; these entries do) -------------------------


def load_engine(options: NightlyOptions) -> Engine:
    """The real double-build engine, adapted to :class:`Engine`."""
    from pipeline import nightly_engine

    return nightly_engine.engine(options)


def load_renderer(log_root: Path | None = None) -> Render:
    """The site renderer; the page's "last updated" is the newest result, so a store renders the same twice."""
    from pipeline.site import render_site
    from pipeline.site.data import instant

    def render(results: list[Result], out_dir: Path) -> None:
        generated = max((instant(r.finished) for r in results), default="")
        render_site(results, out_dir, generated=generated, log_root=log_root)

    return render


def nightly_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nightly", description="Check every listed project on every interpreter.")
    add = parser.add_argument
    add("--list", dest="lists", action="append", type=Path, default=[],
        help="a list file (repeatable; default: every lists/*.txt)")
    add("--python", dest="pythons", action="append", default=[],
        help="an interpreter version like 3.12 (repeatable; default: all found)")
    add("--jobs", type=int, default=os.cpu_count() or 1, help="builds in parallel (default: cores)")
    add("--shard", help="K/N: only this slice of the projects (stable by name hash)")
    add("--force", action="store_true", help="rebuild even what already has a verdict")
    add("--index-url", default=DEFAULT_INDEX, help="PEP 503/691 simple index (https:// or file://)")
    add("--find-links", action="append", default=[], metavar="DIR|URL", help="extra place for build requirements")
    add("--timeout", type=float, default=1800.0, metavar="SECONDS", help="per build (default 1800)")
    add("--memory", type=float, default=8.0, metavar="GIB", help="address-space cap per build (default 8)")
    add("--unsandboxed", action="store_true", help="build without bubblewrap (results are marked so)")
    add("--out", type=Path, default=Path("out"), help="the results store, the site, and by default the work folder")
    add("--work-dir", type=Path, help="caches, environments and kept builds (default: --out)")
    add("--wait", action="store_true", help="wait for another run on the same out/ instead of refusing")
    add("--export", type=Path, metavar="DIR",
        help="write this run's results to a new JSON file in DIR (default with --shard: OUT/shard-results)")
    add("--no-render", action="store_true", help="do not render the site afterwards")
    add("--quiet", action="store_true", help="no live progress, only the summary")
    return parser


def options_from_args(args: argparse.Namespace) -> NightlyOptions:
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    shard = parse_shard(args.shard) if args.shard else None
    export = args.export or (args.out / "shard-results" if shard else None)
    return NightlyOptions(
        out_dir=args.out,
        lists=tuple(args.lists),
        pythons=tuple(args.pythons),
        jobs=args.jobs,
        shard=shard,
        force=args.force,
        index_url=args.index_url,
        wait=args.wait,
        export_dir=export,
        timeout=args.timeout,
        memory=int(args.memory * 1024**3),
        unsandboxed=args.unsandboxed,
        find_links=tuple(args.find_links),
        work_dir=args.work_dir,
    )


def main_nightly(argv: Sequence[str], engine: Engine | None = None) -> int:
    """`nox -s nightly`: prints the live view and the summary; exit 1 with one line on bad input."""
    args = nightly_parser().parse_args(list(argv))
    try:
        options = options_from_args(args)
        # A shard renders nothing: the final CI job renders once from the merged store.
        render = None if (args.no_render or options.shard) else load_renderer(options.work_dir or options.out_dir)
        reporter = None if args.quiet else (lambda progress: print(progress.line(), flush=True))
        summary = run_nightly(engine or load_engine(options), options, reporter=reporter, render=render)
    except PipelineError as exc:
        print(f"nightly: {exc}", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    if summary.rendered:
        print(f"site: {options.out_dir / 'site' / 'index.html'}")
    return 0


def main_merge(argv: Sequence[str]) -> int:
    """`nox -s merge -- FILES...`: fold shard exports into out/ (idempotent)."""
    parser = argparse.ArgumentParser(prog="merge", description="Fold shard result files into the store.")
    parser.add_argument("files", nargs="*", type=Path, help="export files, or folders holding them")
    parser.add_argument("--out", type=Path, default=Path("out"))
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--export-all", type=Path, metavar="FILE",
                        help="afterwards, write the whole store to this one export file")
    args = parser.parse_args(list(argv))
    files: list[Path] = []
    for path in args.files:
        files.extend(sorted(path.rglob("*.json")) if path.is_dir() else [path])
    try:
        with RunLock(args.out, wait=args.wait), Store.open(args.out) as store:
            added = store.merge(files)
            total = store.count()
            exported = (
                store.export(args.export_all.parent, "all", filename=args.export_all.name) if args.export_all else None
            )
    except PipelineError as exc:
        print(f"merge: {exc}", file=sys.stderr)
        return 1
    print(f"merge: {added} new results from {len(files)} files; {total} in {args.out / STORE_NAME}")
    if exported:
        print(f"merge: wrote the whole store to {exported}")
    return 0
