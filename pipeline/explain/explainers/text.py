"""Text and Python sources: a short unified diff excerpt, and a cause from the text rules."""

from __future__ import annotations

import difflib

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


def excerpt(a: str, b: str, limit: int = EXCERPT_LINES) -> tuple[tuple[str, ...], int, int]:
    """A unified diff excerpt (headers dropped, lines clipped) and the numbers of -/+ lines."""
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "A", "B", n=1, lineterm=""))[2:]
    removed = sum(1 for line in lines if line.startswith("-"))
    added = sum(1 for line in lines if line.startswith("+"))
    shown = [_clip(line, _first_change(lines, i)) for i, line in enumerate(lines[:limit])]
    if len(lines) > limit:
        shown.append(f"... ({len(lines) - limit} more diff lines)")
    return tuple(shown), removed, added


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
