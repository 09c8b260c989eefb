"""``diff A.whl B.whl``: print how two wheels differ (exit 0 same, 1 different)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from ..explain import compare_wheels, format_differences
from ..explain.causes import DESCRIPTIONS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nox -s diff --", description="Explain how two wheels differ.")
    parser.add_argument("a", type=Path, help="first wheel")
    parser.add_argument("b", type=Path, help="second wheel")
    parser.add_argument("--limit", type=int, default=20, help="differences to print (default 20)")
    parser.add_argument("--excerpts", action="store_true", help="print diff excerpts under each difference")
    parser.add_argument("--diffoscope", type=Path, metavar="DIR", help="also write diffoscope's HTML report to DIR")
    parser.add_argument("--timeout", type=float, default=300.0, help="diffoscope time limit in seconds")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    return parser


def main_diff(argv: list[str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    comparison = compare_wheels(args.a, args.b, diffoscope_dir=args.diffoscope, diffoscope_timeout=args.timeout)
    if args.json:
        json.dump(comparison.to_json(), out, indent=2)
        out.write("\n")
        return 0 if comparison.identical else 1
    if comparison.identical:
        print(f"identical: sha256 {comparison.sha256_a}", file=out)
        return 0
    print(f"A {comparison.sha256_a}  {comparison.a}", file=out)
    print(f"B {comparison.sha256_b}  {comparison.b}", file=out)
    causes = ", ".join(f"{cause} x{n}" for cause, n in comparison.causes.items())
    print(
        f"different: {comparison.members_changed} of {comparison.members_a}/{comparison.members_b} members changed;"
        f" {len(comparison.differences)} differences ({causes})",
        file=out,
    )
    for line in format_differences(comparison.differences, args.limit, excerpts=args.excerpts):
        print("  " + line, file=out)
    for cause in comparison.causes:
        if cause in DESCRIPTIONS:
            print(f"  {cause}: {DESCRIPTIONS[cause]}", file=out)
    if comparison.diffoscope is not None:
        report = comparison.diffoscope
        print(f"diffoscope: {report.html}" if report.html else f"diffoscope: none ({report.reason})", file=out)
    return 1
