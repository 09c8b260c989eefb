"""``lock`` and ``wheelhouse``: the pinned toolchains, and their wheels for offline builds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ..engine import environments
from ..engine.interpreters import discover, parse_wanted
from ..engine.resolve import PYPI_SIMPLE


def main_lock(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="nox -s lock --", description="Write environments/cpXY.txt toolchain locks.")
    parser.add_argument("--python", action="append", metavar="X.Y")
    parser.add_argument("--index-url", default=PYPI_SIMPLE)
    args = parser.parse_args(argv)
    discovery = discover(parse_wanted(args.python))
    if discovery.missing:
        print(discovery.missing_message(), file=sys.stderr)
    for interpreter in discovery.found:
        path = environments.write_toolchain_lock(interpreter, environments.PipSource(args.index_url))
        print(f"{interpreter.tag}: wrote {path}")
    for selector in discovery.missing:  # CI has the interpreters this machine lacks; it needs their locks
        path = environments.write_toolchain_lock_for(selector, environments.PipSource(args.index_url))
        print(f"{selector}: wrote {path} (resolved for its tags; the interpreter is not here)")
    return 0


def main_wheelhouse(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline wheelhouse",
                                     description="Download the pinned toolchains' wheels for offline builds.")
    parser.add_argument("dest")
    parser.add_argument("--extra", help="a requirements file to add (e.g. environments/fixtures.txt)")
    parser.add_argument("--index-url", default=PYPI_SIMPLE)
    args = parser.parse_args(argv)
    minors = environments.locked_selectors()
    environments.fill_wheelhouse(Path(args.dest), environments.PipSource(args.index_url), minors,
                                 Path(args.extra) if args.extra else None)
    print(f"wheelhouse {args.dest}: toolchains for Python {', '.join(minors)}")
    return 0
