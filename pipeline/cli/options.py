"""The options several commands share, declared once, and the CheckOptions they make."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..engine.options import CheckOptions
from ..engine.resolve import PYPI_SIMPLE
from ..engine.sandbox import GiB


def add_build_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that builds shares: where packages come from, the limits, the sandbox."""
    add = parser.add_argument
    add("--index-url", default=PYPI_SIMPLE, help="PEP 503/691 simple index (https:// or file://)")
    add("--find-links", action="append", default=[], metavar="DIR|URL", help="extra place for build requirements")
    add("--timeout", type=float, default=1800.0, metavar="SECONDS", help="per build (default 1800)")
    add("--memory", type=float, default=8.0, metavar="GIB",
        help="memory cap per build, its processes and tmpfs together (default 8; per process without cgroups)")
    add("--unsandboxed", action="store_true", help="build without bubblewrap (results are marked so)")
    add("--sequential", action="store_true", help="run the two controlled builds one after the other, not at once")


def check_options(args: argparse.Namespace, out: Path, **more: object) -> CheckOptions:
    """The CheckOptions the shared build options (and ``more``) ask for."""
    return CheckOptions(out=out, index_url=args.index_url, find_links=tuple(args.find_links), timeout=args.timeout,
                        memory=int(args.memory * GiB), unsandboxed=args.unsandboxed, sequential=args.sequential, **more)
