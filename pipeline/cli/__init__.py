"""Command line: the only package that prints or exits.  ``python -m pipeline COMMAND ...``."""

from __future__ import annotations

import sys
from typing import Callable, Sequence

from ..errors import PipelineError
from .check import exit_code, main_bench, main_check, main_diff, main_lock, main_render, main_wheelhouse
from .nightly import main_lists, main_merge, main_nightly
from .upstream import main_upstream

__all__ = ["COMMANDS", "exit_code", "main"]

COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "check": main_check,
    "render": main_render,
    "nightly": main_nightly,
    "merge": main_merge,
    "lists": main_lists,
    "upstream": main_upstream,
    "diff": main_diff,
    "lock": main_lock,
    "wheelhouse": main_wheelhouse,
    "bench": main_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m pipeline {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
