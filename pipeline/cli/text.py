"""Text that reaches a terminal: package-derived strings made inert, and where each kind of line goes.

Every string an sdist, a wheel or an index chose (member names, wheel file names, versions of a
local sdist, messages quoting them) can carry terminal escapes (clear the screen, set the title,
move the cursor) or newlines that forge a line of the report.  :func:`printable` is the one
function that makes such text inert; every line the commands print goes through it.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, TextIO

# C0 and C1 controls (ESC, CR, LF, TAB, BEL, CSI ...), DEL, the bidirectional overrides and
# isolates that reorder what a reader sees, the Unicode line separators, and the lone
# surrogates a file name decoded with surrogateescape carries (they cannot even be encoded).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` on one line with every control character shown as an escape (``\\x1b``, ``\\n``)."""
    return _UNSAFE.sub(_escape, str(text))


def printable_lines(lines: Iterable[object]) -> str:
    """Lines the tool composed, each made printable, joined by the tool's own newlines."""
    return "\n".join(printable(line) for line in lines)


QUIET, NORMAL, VERBOSE = -1, 0, 1


@dataclass
class Console:
    """Where a command's lines go.

    ``report`` (details and the table) goes to stdout, or to stderr when stdout carries JSON;
    ``note`` (progress, one line per finished check) and ``problem`` (always shown) go to stderr.
    """

    verbosity: int = NORMAL
    report_stream: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def report(self, text: str) -> None:
        """A block composed by :mod:`pipeline.cli.report`, whose every line is already printable."""
        print(text, file=self.report_stream, flush=True)

    def note(self, line: object, level: int = NORMAL) -> None:
        if self.verbosity >= level:
            print(printable(line), file=self.err, flush=True)

    def problem(self, line: object) -> None:
        print(printable(line), file=self.err, flush=True)


def save_traceback(error: BaseException) -> Path:
    """The traceback of an unexpected error in a file of its own (the one line printed names it)."""
    fd, name = tempfile.mkstemp(prefix="wheelrepro-traceback-", suffix=".txt", dir=_TRACEBACK_DIR)
    with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
        handle.write("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    return Path(name)


#: not the run's private temporary folder (removed at exit): the system's, where the file outlives the run
_TRACEBACK_DIR = tempfile.gettempdir()
