"""``lock`` and ``wheelhouse``: the pinned toolchains, and their wheels for offline builds."""

from __future__ import annotations

import sys
from typing import Sequence

from ..engine import environments
from ..engine.interpreters import discover, parse_wanted
from ..records import PYPI_SIMPLE
from .options import Parser, existing_file, flatten, index_url, python_versions, writable_folder


def main_lock(argv: Sequence[str]) -> int:
    parser = Parser("lock", "Write the environments/cpXY.txt toolchain locks (needs the network).")
    parser.add_argument("--python", action="append", type=python_versions, metavar="X.Y")
    parser.add_argument("--index-url", type=index_url, default=PYPI_SIMPLE)
    args = parser.parse_args(argv)
    discovery = discover(parse_wanted(flatten(args.python)))
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
    parser = Parser("wheelhouse", "Download the pinned toolchains' wheels for offline builds.")
    parser.add_argument("dest", type=writable_folder)
    parser.add_argument("--extra", type=existing_file, help="a requirements file to add (e.g. environments/fixtures.txt)")
    parser.add_argument("--index-url", type=index_url, default=PYPI_SIMPLE)
    args = parser.parse_args(argv)
    minors = environments.locked_selectors()
    environments.fill_wheelhouse(args.dest, environments.PipSource(args.index_url), minors, args.extra)
    print(f"wheelhouse {args.dest}: toolchains for Python {', '.join(minors)}")
    return 0
