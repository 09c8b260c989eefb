"""``nightly``, ``merge`` and ``lists``: the command line builds the engine and renderer and prints."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence

from ..errors import UsageError
from ..nightly.lists import TOP_COUNT, TOP_LIST, TOP_URL, refresh_top_list
from ..nightly.plan import parse_shard
from ..nightly.run import Engine, NightlyOptions, run_nightly
from ..nightly.store import STORE_NAME, RunLock, Store
from .options import (Parser, add_build_options, any_url, add_out, add_verbosity, check_options, flatten,
                      positive_int, python_versions, writable_folder)
from .render import add_repository, site_renderer
from .text import printable


def nightly_parser() -> argparse.ArgumentParser:
    parser = Parser("nightly", "Check every listed project on every interpreter (only what is new), then render.")
    add = parser.add_argument
    add("--list", dest="lists", action="append", type=Path, default=[],
        help="a list file (repeatable; default: every lists/*.txt)")
    add("--python", dest="pythons", action="append", type=python_versions, default=[],
        help="an interpreter version like 3.12 (repeatable; default: all found)")
    add("--jobs", type=positive_int, default=os.cpu_count() or 1, help="builds in parallel (default: cores)")
    add("--shard", help="K/N: only this slice of the projects (stable by name hash)")
    add("--force", action="store_true", help="rebuild even what already has a verdict")
    add("--vary", action="store_true", help="the strict check: variation builds for what is reproducible")
    add_out(parser, "the results folder: the store, the site, and by default the work folder")
    add("--work-dir", type=writable_folder, help="caches, environments and kept builds (default: --out)")
    add("--wait", action="store_true", help="wait for another run on the same out/ instead of refusing")
    add("--export", type=Path, metavar="DIR",
        help="write this run's results to a new JSON file in DIR (default with --shard: OUT/shard-results)")
    add("--no-render", action="store_true", help="do not render the site afterwards")
    add_repository(parser)
    add_verbosity(parser)
    add_build_options(parser)
    return parser


def options_from_args(args: argparse.Namespace) -> NightlyOptions:
    pythons = flatten(args.pythons)
    exact = [version for version in pythons if version.count(".") == 2]
    if exact:
        raise UsageError(f"the nightly takes X.Y versions (--python {exact[0].rsplit('.', 1)[0]}), got {exact[0]}")
    shard = parse_shard(args.shard) if args.shard else None
    export = args.export or (args.out / "shard-results" if shard else None)
    return NightlyOptions(
        out_dir=args.out,
        check=check_options(args, args.work_dir or args.out, vary=args.vary),
        lists=tuple(args.lists),
        pythons=tuple(pythons),
        jobs=args.jobs,
        shard=shard,
        force=args.force,
        wait=args.wait,
        export_dir=export,
    )


def main_nightly(argv: Sequence[str], engine: Engine | None = None) -> int:
    """`nox -s nightly`: prints the live view and the summary."""
    args = nightly_parser().parse_args(list(argv))
    options = options_from_args(args)
    if engine is None:
        from ..nightly.engine import engine as real_engine

        engine = real_engine(options.check)
    # A shard renders nothing: the final CI job renders once from the merged store.
    render = None if (args.no_render or options.shard) else site_renderer(options.check.out, args.repository)
    reporter = None if args.verbosity < 0 else (lambda progress: print(printable(progress.line()), flush=True))
    summary = run_nightly(engine, options, reporter=reporter, render=render)
    for line in summary.lines():
        print(printable(line))
    if summary.rendered:
        print(f"site: {options.out_dir / 'site' / 'index.html'}")
    return 0


def main_merge(argv: Sequence[str]) -> int:
    """`nox -s merge -- FILES...`: fold shard exports into out/ (idempotent)."""
    parser = Parser("merge", "Fold shard result files into the store.")
    parser.add_argument("files", nargs="*", type=Path, help="export files, or folders holding them")
    add_out(parser, "the results folder whose store to fold them into")
    parser.add_argument("--wait", action="store_true", help="wait for another run on the same --out")
    parser.add_argument("--export-all", type=Path, metavar="FILE",
                        help="afterwards, write the whole store to this one export file")
    args = parser.parse_args(list(argv))
    files: list[Path] = []
    for path in args.files:
        files.extend(sorted(path.rglob("*.json")) if path.is_dir() else [path])
    with RunLock(args.out, wait=args.wait), Store.open(args.out) as store:
        added = store.merge(files)
        total = store.count()
        exported = store.export(args.export_all.parent, "all", filename=args.export_all.name) if args.export_all else None
    print(f"merge: {added} new results from {len(files)} files; {total} in {args.out / STORE_NAME}")
    if exported:
        print(f"merge: wrote the whole store to {exported}")
    return 0


def main_lists(argv: Sequence[str]) -> int:
    """`nox -s lists`: refresh lists/top-pypi.txt; prints one line, exit 0 even when offline."""
    parser = Parser("lists", "Refresh lists/top-pypi.txt from the public ranking.")
    parser.add_argument("--url", type=any_url, default=TOP_URL, help="ranking JSON with rows: [{project, download_count}]")
    parser.add_argument("--dest", type=Path, default=TOP_LIST, help=f"the list to write (default {TOP_LIST})")
    parser.add_argument("--count", type=positive_int, default=TOP_COUNT, help=f"how many projects (default {TOP_COUNT})")
    args = parser.parse_args(list(argv))
    outcome = refresh_top_list(args.dest, args.url, args.count)
    print(f"lists: {outcome.message}")
    return 0
