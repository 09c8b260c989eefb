"""Text and Python sources: a short unified diff excerpt, and a cause from the text rules."""

from __future__ import annotations

import difflib
import re
from collections import Counter

from ..base import Context, Explanation, Member, is_text, plural
from ..causes import classify_text

#: above this, diffing lines gets slow and the excerpt says little: let the binary explainer do it
TEXT_CAP = 4 * 1024 * 1024
EXCERPT_LINES = 12
LINE_WIDTH = 160


def _first_change(lines: list[str], i: int) -> int:
    """Column where a changed line first differs from its counterpart in the same hunk (0 if none)."""
    line = lines[i]
    if line[:1] not in "-+":
        return 0
    sign, other = line[0], "+" if line[0] == "-" else "-"
    run_start = i
    while run_start > 0 and lines[run_start - 1][:1] == sign:
        run_start -= 1
    position = i - run_start
    # the counterpart is at the same position in the neighbouring run of the other sign
    j = i + 1 if sign == "-" else run_start - 1
    while 0 <= j < len(lines) and lines[j][:1] == sign:
        j += 1
    if sign == "+":
        while j > 0 and lines[j - 1][:1] == other:
            j -= 1
    j += position
    if not (0 <= j < len(lines) and lines[j][:1] == other):
        return 0
    pair = lines[j]
    return next((k for k, (x, y) in enumerate(zip(line[1:], pair[1:])) if x != y), 0)


def _clip(line: str, column: int) -> str:
    """At most LINE_WIDTH characters of a diff line, showing the region around ``column``."""
    if len(line) <= LINE_WIDTH:
        return line
    start = max(0, column - LINE_WIDTH // 3)
    end = 1 + start + LINE_WIDTH - 8
    return line[0] + ("..." if start else "") + line[1 + start : end] + ("..." if end < len(line) else "")


#: lines of each side given to difflib: the excerpt needs only the first hunks
WINDOW = 200
_HUNK_RE = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@$")


def excerpt(a: str, b: str, limit: int = EXCERPT_LINES) -> tuple[tuple[str, ...], int, int]:
    """A unified diff excerpt of the first changes (lines clipped) and the numbers of -/+ lines.

    difflib runs only on a window after the common leading lines, so a large file with changes
    everywhere costs no more than a small one; the -/+ counts compare the lines as multisets.
    """
    la, lb = a.splitlines(), b.splitlines()
    counts_a, counts_b = Counter(la), Counter(lb)
    removed, added = sum((counts_a - counts_b).values()), sum((counts_b - counts_a).values())
    skip = next((i for i, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
    skip = max(0, skip - 1)
    window = difflib.unified_diff(la[skip : skip + WINDOW], lb[skip : skip + WINDOW], n=1, lineterm="")
    lines = [_renumber(line, skip) for line in list(window)[2:]]
    if len(la) - skip > WINDOW or len(lb) - skip > WINDOW:
        lines = _whole_hunks(lines)
    shown = [_clip(line, _first_change(lines, i)) for i, line in enumerate(lines[:limit])]
    shown_changes = sum(1 for line in lines[:limit] if line[:1] in "-+")
    if lines and (len(lines) > limit or removed + added > shown_changes):
        shown.append("... (more changes)")
    return tuple(shown), removed, added


def _renumber(line: str, offset: int) -> str:
    match = _HUNK_RE.match(line)
    if not match:
        return line
    return f"@@ -{int(match[1]) + offset}{match[2] or ''} +{int(match[3]) + offset}{match[4] or ''} @@"


def _whole_hunks(lines: list[str]) -> list[str]:
    """Drop the last hunk of a windowed diff: the window's edge may have cut it short."""
    starts = [i for i, line in enumerate(lines) if line.startswith("@@")]
    return lines[: starts[-1]] if len(starts) > 1 else lines


def explain(path: str, a: Member, b: Member, context: Context) -> Explanation | None:
    if a.size > TEXT_CAP or b.size > TEXT_CAP:
        return None
    if not (is_text(a.head()) and is_text(b.head())):
        return None
    da, db = a.data(), b.data()
    if da is None or db is None:
        return None
    try:
        ta, tb = da.decode("utf-8"), db.decode("utf-8")
    except UnicodeDecodeError:
        return None
    evidence = classify_text(da, db)
    lines, removed, added = excerpt(ta, tb)
    if not lines:
        summary = "line endings or trailing newline differ"
    else:
        summary = f"text: {plural(removed, 'line')} removed, {plural(added, 'line')} added"
    if evidence.notes:
        summary += f" [{evidence.text()}]"
    return Explanation(summary, evidence.cause, lines)
