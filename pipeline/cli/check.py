"""``check``: build each wheel twice per Python, compare, print the table and the details."""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from ..engine.check import Checker, Phase
from ..engine.interpreters import discover, parse_wanted
from ..errors import PipelineError, UsageError
from ..records import Result
from . import report
from .options import add_build_options, check_options
from .progress import LiveProgress


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nox -s check --", description="Build each wheel twice per Python and compare.")
    parser.add_argument("targets", nargs="+", metavar="PKG[==VER] | SDIST", help="a project on the index, or a local sdist")
    parser.add_argument("--python", action="append", metavar="X.Y", help="interpreter(s) to use (default: every supported one found)")
    parser.add_argument("--json", metavar="FILE", help="write the results as a JSON list")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="checks run at once")
    parser.add_argument("--out", default="out", help="where results, wheels, logs and caches go (default out/)")
    parser.add_argument("--vary", action="store_true", help="strict check: rebuild a reproducible wheel under variations (docs/vary.md)")
    parser.add_argument("--no-upstream", action="store_true", help="do not compare with the wheel the index publishes")
    parser.add_argument("--require-upstream", action="store_true",
                        help="exit 1 unless the index's wheel is identical or equivalent to a rebuild (docs/upstream.md)")
    add_build_options(parser)
    return parser


def exit_code(results: Sequence[Result]) -> int:
    """0: all reproducible; 1: something is unreproducible; 2: something could not be checked."""
    statuses = {r.status for r in results}
    if "unreproducible" in statuses:
        return 1
    if statuses - {"reproducible"} or not results:
        return 2
    return 0


def main_check(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    if args.require_upstream and args.no_upstream:
        raise UsageError("--require-upstream needs the comparison that --no-upstream turns off")
    discovery = discover(parse_wanted(args.python))
    if discovery.missing:
        print(discovery.missing_message(), file=sys.stderr)
    if not discovery.found:
        raise PipelineError("no supported Python interpreter found; nothing to check")
    options = check_options(args, Path(args.out), vary=args.vary, upstream=not args.no_upstream)
    progress = LiveProgress()
    checker = Checker(options, progress=progress)
    results: list[Result] = []
    failures: list[str] = []
    try:
        jobs = []
        for argument in args.targets:
            try:
                target = checker.target(argument)
            except PipelineError as exc:
                failures.append(f"{argument}: {exc}")
                print(f"error: {argument}: {exc}", file=sys.stderr)
                continue
            jobs += [(target, interpreter) for interpreter in discovery.found]

        def run(job) -> Result:
            target, interpreter = job
            result = checker.check(target, interpreter)
            progress(Phase(target.name, target.version, interpreter.tag, "done"))
            return result

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(run, jobs))
    finally:
        progress.close()
    if args.json:
        Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n")
    print(report.table(results))
    for block in report.details(results):
        print(block)
    if failures:
        print("\nnot checked:\n  " + "\n  ".join(failures))
        return 2
    if args.require_upstream:
        return max(exit_code(results), upstream_exit_code(results))
    return exit_code(results)


def upstream_exit_code(results: Sequence[Result]) -> int:
    """--require-upstream: 0 when every index wheel is identical or equivalent to a rebuild; 2 when a
    comparison could not be made (not-checked, or no build to compare); 1 otherwise (different,
    no-wheel, not-comparable, a local sdist with no index wheel)."""
    if not results:
        return 2
    ups = [r.upstream for r in results]
    if all(u is not None and u.reproduced for u in ups):
        return 0
    if any(u is not None and u.status == "not-checked" for u in ups):
        return 2
    return 1
