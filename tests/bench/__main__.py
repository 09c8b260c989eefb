"""``python -m tests.bench [AREA ...]``: print each figure as it is measured; exit 1 when one misses its target."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.bench import BENCHMARKS, run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nox -s bench --", description="Measure; print figures and ratios.")
    parser.add_argument("areas", nargs="*", metavar="AREA", help=f"some of: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--workdir", default="out/bench")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.areas) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown area(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    missed = 0
    for figure in run(args.areas, Path(args.workdir).resolve()):
        print(figure.line(), flush=True)
        missed += figure.ok is False
    return 1 if missed else 0


sys.exit(main(sys.argv[1:]))
