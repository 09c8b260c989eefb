"""``diff A.whl B.whl``: print how two wheels differ (exit 0 same, 1 different)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from ..explain import compare_wheels, format_differences
from ..explain.causes import DESCRIPTIONS
from .options import Parser, positive_int, positive_number, writable_folder
from .report import DIFFERENCE_HEADER
from .text import printable


def _parser() -> Parser:
    parser = Parser("diff", "Explain how two wheels differ (exit 0: identical, 1: different).")
    parser.add_argument("a", type=Path, help="first wheel")
    parser.add_argument("b", type=Path, help="second wheel")
    parser.add_argument("--limit", type=positive_int, default=20, help="differences to print (default 20)")
    parser.add_argument("--excerpts", action="store_true", help="print diff excerpts under each difference")
    parser.add_argument("--diffoscope", type=writable_folder, metavar="DIR",
                        help="also write diffoscope's HTML report to DIR")
    parser.add_argument("--timeout", type=positive_number, default=300.0, help="diffoscope time limit in seconds")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    return parser


def main_diff(argv: list[str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)

    def say(line: object) -> None:  # member names and file names are the wheels' own text
        print(printable(line), file=out)

    comparison = compare_wheels(args.a, args.b, diffoscope_dir=args.diffoscope, diffoscope_timeout=args.timeout)
    if args.json:
        json.dump(comparison.to_json(), out, indent=2)
        out.write("\n")
        return 0 if comparison.identical else 1
    if comparison.identical:
        say(f"identical: sha256 {comparison.sha256_a}")
        return 0
    say(f"A {comparison.sha256_a}  {comparison.a}")
    say(f"B {comparison.sha256_b}  {comparison.b}")
    causes = ", ".join(f"{cause} x{n}" for cause, n in comparison.causes.items())
    say(f"different: {comparison.members_changed} of {comparison.members_a}/{comparison.members_b} members changed;"
        f" {len(comparison.differences)} differences ({causes})")
    lines = format_differences(comparison.differences, args.limit, excerpts=args.excerpts)
    for line in [DIFFERENCE_HEADER] + lines if lines else []:
        say("  " + line)
    for cause in comparison.causes:
        if cause in DESCRIPTIONS:
            say(f"  {cause}: {DESCRIPTIONS[cause]}")
    if comparison.diffoscope is not None:
        report = comparison.diffoscope
        say(f"diffoscope: {report.html}" if report.html else f"diffoscope: none ({report.reason})")
    return 1
