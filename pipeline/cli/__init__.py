"""Command line: the only package that prints or exits.  ``python -m pipeline COMMAND ...``.

Each command is a function from its arguments to an exit code; the errors it raises are turned
into one line and an exit code here, in :func:`main`, and nowhere else.
"""

from __future__ import annotations

import sys
from typing import Callable, Sequence

from ..errors import PipelineError
from .check import exit_code, main_check
from .diff import main_diff
from .nightly import main_lists, main_merge, main_nightly
from .publish import main_history, main_publish
from .render import main_render
from .tools import main_lock, main_wheelhouse
from .upstream import main_upstream

__all__ = ["COMMANDS", "EXIT_INPUT", "exit_code", "main"]

COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "check": main_check,
    "render": main_render,
    "nightly": main_nightly,
    "merge": main_merge,
    "history": main_history,
    "publish": main_publish,
    "lists": main_lists,
    "upstream": main_upstream,
    "diff": main_diff,
    "lock": main_lock,
    "wheelhouse": main_wheelhouse,
}
#: a command that could not do what it was asked (bad input, an unreachable index, a busy store)
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m pipeline {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return EXIT_INPUT
    try:
        return COMMANDS[argv[0]](argv[1:])
    except PipelineError as exc:
        print(f"{argv[0]}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
