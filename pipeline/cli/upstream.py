"""The upstream command: is each release's wheel on the index what its sdist builds to?"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from ..engine.check import Checker
from ..engine.interpreters import discover, parse_wanted
from ..errors import PipelineError, UsageError
from ..explain import format_differences
from ..upstream.verify import Verification, upstream_target, verify
from . import report
from .options import add_build_options, check_options

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nox -s upstream --",
        description="Compare each release's rebuilt wheel with the one the index publishes, rebuilding with the "
                    "toolchain that made the index's wheel.")
    parser.add_argument("targets", nargs="+", metavar="PKG[==VER] | SDIST",
                        help="a project on the index, or a local sdist (compared with the index's wheel of its version)")
    parser.add_argument("--python", action="append", metavar="X.Y",
                        help="interpreter(s) of the rebuild (default: the one running this)")
    parser.add_argument("--out", default="out", help="results, kept wheels and caches (default out/)")
    parser.add_argument("--rebuild", action="store_true", help="build anew even when a kept wheel exists")
    parser.add_argument("--json", metavar="FILE", help="write one record per release and Python as a JSON list")
    add_build_options(parser)  # for the builds
    return parser


def _lines(item: Verification) -> list[str]:
    head = f"{item.name} {item.version} [{item.interpreter.tag}]"
    if item.upstream is None:
        return [f"{head}: not compared: {item.problem or 'nothing to compare'}"]
    up = item.upstream
    lines = [f"{head} rebuild: {item.wheel.name} ({item.origin})", f"  {item.wheel}",
             f"vs the index's wheel: {up.status}: {up.note}"]
    if up.wheel:
        lines.append(f"  {up.wheel}  sha256 {up.sha256}")
    if up.toolchain:
        lines += [line[2:] for line in report.toolchain_lines(up.toolchain)]
    if up.passes:
        lines.append(f"  normalisation passes that changed something: {', '.join(up.passes)}")
    lines += ["  " + line for line in format_differences(up.differences, 12)]
    return lines


def exit_status(items: Sequence[Verification]) -> int:
    """0: every index wheel verified (identical or equivalent); 1: one is not; 2: one could not be compared."""
    if not items or any(i.upstream is None or i.upstream.status == "not-checked" for i in items):
        return 2
    return 0 if all(i.upstream.reproduced for i in items) else 1


def main_upstream(argv: Sequence[str]) -> int:
    """Exit 0: every index wheel is verified (identical or equivalent); 1: one is not; 2: no verdict."""
    args = _parser().parse_args(list(argv))
    wanted = args.python or [f"{sys.version_info.major}.{sys.version_info.minor}"]
    discovery = discover(parse_wanted(wanted))
    if discovery.missing:
        print(discovery.missing_message(), file=sys.stderr)
    if not discovery.found:
        raise UsageError(f"Python {', '.join(wanted)} not found; pass --python X.Y")
    checker = Checker(check_options(args, Path(args.out)))
    items: list[Verification] = []
    failures = 0
    for argument in args.targets:
        try:
            target = upstream_target(checker, argument)
        except PipelineError as error:
            print(f"error: {argument}: {error}", file=sys.stderr)
            failures += 1
            continue
        for interpreter in discovery.found:
            item = verify(checker, target, interpreter, args.rebuild)
            items.append(item)
            print("\n".join(_lines(item)) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps([i.to_json() for i in items], indent=2) + "\n")
    rows = [("package", "version", "python", "pypi", "toolchain")]
    rows += [(i.name, i.version, i.interpreter.version, report.pypi_cell(i.upstream),
              (i.upstream.toolchain.status if i.upstream and i.upstream.toolchain else "-")) for i in items]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    print("\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows))
    return 2 if failures else exit_status(items)
