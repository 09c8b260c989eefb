"""Text and Python sources: a short unified diff excerpt, and a cause from the text rules."""

from __future__ import annotations

import difflib

from ..base import Context, Explanation, Member, is_text, plural
from ..causes import classify_text

#: above this, diffing lines gets slow and the excerpt says little: let the binary explainer do it
TEXT_CAP = 4 * 1024 * 1024
EXCERPT_LINES = 12
LINE_WIDTH = 160


def excerpt(a: str, b: str, limit: int = EXCERPT_LINES) -> tuple[tuple[str, ...], int, int]:
    """A unified diff excerpt (headers dropped, lines clipped) and the numbers of -/+ lines."""
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), "A", "B", n=1, lineterm=""))[2:]
    removed = sum(1 for line in lines if line.startswith("-"))
    added = sum(1 for line in lines if line.startswith("+"))
    shown = [line if len(line) <= LINE_WIDTH else line[: LINE_WIDTH - 3] + "..." for line in lines[:limit]]
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
