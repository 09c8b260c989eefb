"""Command line: the only package that prints or exits.  ``wheelrepro COMMAND ...`` (or ``python -m pipeline``).

Each command is a function from its arguments to an exit code; the errors it raises are turned
into one line and an exit code here, in :func:`main`, and nowhere else.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, Sequence

from .. import __version__
from ..errors import PipelineError
from .check import exit_code, main_check
from .diff import main_diff
from .interrupt import private_tempdir, sigterm_interrupts, stop_children
from .nightly import main_lists, main_merge, main_nightly
from .options import EXIT_CODES, PROG
from .publish import main_history, main_publish
from .render import main_render
from .text import printable, save_traceback
from .tools import main_lock, main_wheelhouse
from .upstream import main_upstream

__all__ = ["COMMANDS", "EXIT_INPUT", "EXIT_INTERNAL", "exit_code", "main"]

COMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "check": (main_check, "build releases, sdists or a requirements file twice per Python and compare"),
    "diff": (main_diff, "explain how two wheels differ"),
    "upstream": (main_upstream, "compare a release's rebuilt wheel with the one the index publishes"),
    "nightly": (main_nightly, "check every listed project on every interpreter, then render the site"),
    "merge": (main_merge, "fold shard result files into the results store"),
    "history": (main_history, "fetch the nightly's history and fold it into the results store"),
    "publish": (main_publish, "a night's publish step: history, shard results, append, render"),
    "render": (main_render, "render the static site from the results store"),
    "lists": (main_lists, "refresh lists/top-pypi.txt from the public ranking"),
    "lock": (main_lock, "re-resolve the pinned build toolchain locks"),
    "wheelhouse": (main_wheelhouse, "download the pinned toolchains' wheels for offline builds"),
}
#: a command that could not do what it was asked (bad input, an unreachable index, a busy store)
EXIT_INPUT = 2
#: the tool's own failure: an exception nobody expected (its traceback is kept in a file)
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    commands = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items())
    return (f"usage: {PROG} COMMAND [options]   ({PROG} COMMAND --help for its options)\n\n"
            f"Rebuild Python wheels from their sdists and say whether they are reproducible.\n\n"
            f"commands:\n{commands}\n\n{EXIT_CODES}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv and argv[0] in ("-V", "--version"):
        print(f"{PROG} {__version__}")
        return 0
    if not argv or argv[0] not in COMMANDS:
        given = f"unknown command {printable(argv[0])!r}; " if argv else ""
        print(f"{PROG}: error: {given}give one of {', '.join(COMMANDS)} (--help says more)", file=sys.stderr)
        return EXIT_INPUT
    command, function = argv[0], COMMANDS[argv[0]][0]
    try:
        with sigterm_interrupts(), private_tempdir():
            return function(argv[1:])
    except PipelineError as error:
        print(f"{command}: error: {printable(error)}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        stop_children()
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `wheelrepro check ... | head`: the reader left; nothing more to say
        sys.stdout = open(os.devnull, "w")  # the interpreter's last flush must not fail again
        return EXIT_INPUT
    except SystemExit as exit:  # argparse's --help and --version
        return exit.code if isinstance(exit.code, int) else 0
    except Exception as error:  # a bug: one line, the traceback kept for the report
        print(f"{command}: internal error: {printable(f'{type(error).__name__}: {error}')} "
              f"(traceback in {save_traceback(error)})", file=sys.stderr)
        return EXIT_INTERNAL
