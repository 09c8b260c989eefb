"""``upstream``: is each release's wheel on the index what its sdist builds to?  (pipeline.upstream)"""

from __future__ import annotations

import json
import sys
from typing import Sequence

from ..engine.check import Checker
from ..engine.interpreters import discover, parse_wanted
from ..errors import PipelineError, UsageError
from ..upstream.verify import Verification, upstream_target, verify
from . import report
from .check import json_destination
from .options import Parser, add_build_options, add_out, check_options, flatten, python_versions
from .report import difference_lines
from .text import printable


def _parser() -> Parser:
    parser = Parser("upstream", "Compare each release's rebuilt wheel with the one the index publishes, rebuilding "
                                "with the toolchain that made the index's wheel (exit 0: every one identical or "
                                "equivalent, 1: one is not, 2: one could not be compared).")
    parser.add_argument("targets", nargs="+", metavar="PKG[==VER] | SDIST",
                        help="a project on the index, or a local sdist (compared with the index's wheel of its version)")
    parser.add_argument("--python", action="append", type=python_versions, metavar="X.Y",
                        help="interpreter(s) of the rebuild (default: the one running this)")
    add_out(parser)
    parser.add_argument("--rebuild", action="store_true", help="build anew even when a kept wheel exists")
    parser.add_argument("--json", type=json_destination, metavar="FILE|-",
                        help="write one record per release and Python as a JSON list ('-': to stdout)")
    add_build_options(parser)  # for the builds
    return parser


def _lines(item: Verification) -> list[str]:
    head = f"{item.name} {item.version} [{item.interpreter.tag}]"
    if item.upstream is None:
        return [f"{head}: not compared: {item.problem or 'nothing to compare'}"]
    up = item.upstream
    lines = [f"{head} rebuild: {item.wheel.name} ({item.origin})", f"  {report.shown_path(item.wheel)}",
             f"vs the index's wheel: {up.status}: {up.note}"]
    if up.wheel:
        lines.append(f"  {up.wheel}  sha256 {up.sha256}")
    if up.toolchain:
        lines += [line[2:] for line in report.toolchain_lines(up.toolchain)]
    if up.passes:
        lines.append(f"  normalisation passes that changed something: {', '.join(up.passes)}")
    return [printable(line) for line in lines] + difference_lines(up.differences, 12, indent="  ")


def exit_status(items: Sequence[Verification]) -> int:
    """0: every index wheel verified (identical or equivalent); 1: one is not; 2: one could not be compared."""
    if not items or any(i.upstream is None or i.upstream.status == "not-checked" for i in items):
        return 2
    return 0 if all(i.upstream.reproduced for i in items) else 1


def main_upstream(argv: Sequence[str]) -> int:
    """Exit 0: every index wheel is verified (identical or equivalent); 1: one is not; 2: no verdict."""
    args = _parser().parse_args(list(argv))
    wanted = flatten(args.python) or [f"{sys.version_info.major}.{sys.version_info.minor}"]
    if any(version.count(".") == 2 for version in wanted):
        raise UsageError(f"upstream takes X.Y versions, got {', '.join(wanted)}")
    out = sys.stderr if args.json == "-" else sys.stdout
    discovery = discover(parse_wanted(wanted))
    if discovery.missing:
        print(discovery.missing_message(), file=sys.stderr)
    if not discovery.found:
        raise UsageError(f"Python {', '.join(wanted)} not found; pass --python X.Y")
    checker = Checker(check_options(args, args.out))
    items: list[Verification] = []
    failures = 0
    for argument in args.targets:
        try:
            target = upstream_target(checker, argument)
        except PipelineError as error:
            print(printable(f"refused: {argument}: {error}"), file=sys.stderr)
            failures += 1
            continue
        for interpreter in discovery.found:
            item = verify(checker, target, interpreter, args.rebuild)
            items.append(item)
            print("\n".join(_lines(item)) + "\n", file=out)
    records = [i.to_json() for i in items]
    if args.json == "-":
        print(json.dumps(records, indent=2))
    elif args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(records, indent=2) + "\n")
    rows = [("package", "version", "python", "pypi", "toolchain")]
    rows += [(i.name, i.version, i.interpreter.version, report.pypi_cell(i.upstream),
              (i.upstream.toolchain.status if i.upstream and i.upstream.toolchain else "-")) for i in items]
    rows = [tuple(printable(cell) for cell in row) for row in rows]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    print("\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows), file=out)
    return 2 if failures else exit_status(items)
