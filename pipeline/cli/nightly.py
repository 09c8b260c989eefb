"""The nightly, merge and lists commands (the live view and the summaries are printed here)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from ..errors import PipelineError, UsageError
from ..nightly.lists import TOP_COUNT, TOP_LIST, TOP_URL, refresh_top_list
from ..nightly.run import Engine, NightlyOptions, load_engine, load_renderer, run_nightly
from ..nightly.plan import parse_shard
from ..nightly.store import STORE_NAME, RunLock, Store
from ..engine.sandbox import GiB
from .check import add_build_options


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
    add("--vary", action="store_true", help="the strict check: variation builds for what is reproducible")
    add("--out", type=Path, default=Path("out"), help="the results store, the site, and by default the work folder")
    add("--work-dir", type=Path, help="caches, environments and kept builds (default: --out)")
    add("--wait", action="store_true", help="wait for another run on the same out/ instead of refusing")
    add("--export", type=Path, metavar="DIR",
        help="write this run's results to a new JSON file in DIR (default with --shard: OUT/shard-results)")
    add("--no-render", action="store_true", help="do not render the site afterwards")
    add("--quiet", action="store_true", help="no live progress, only the summary")
    add_build_options(parser)
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
        memory=int(args.memory * GiB),
        unsandboxed=args.unsandboxed,
        vary=args.vary,
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


def main_lists(argv: Sequence[str]) -> int:
    """`nox -s lists`: refresh lists/top-pypi.txt; prints one line, exit 0 even when offline."""
    parser = argparse.ArgumentParser(prog="lists", description="Refresh lists/top-pypi.txt from the public ranking.")
    parser.add_argument("--url", default=TOP_URL, help="ranking JSON with rows: [{project, download_count}]")
    parser.add_argument("--dest", type=Path, default=TOP_LIST)
    parser.add_argument("--count", type=int, default=TOP_COUNT)
    args = parser.parse_args(list(argv))
    try:
        outcome = refresh_top_list(args.dest, args.url, args.count)
    except PipelineError as exc:
        print(f"lists: {exc}")
        return 1
    print(f"lists: {outcome.message}")
    return 0
