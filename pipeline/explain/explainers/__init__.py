"""The explainers, in the one order they are tried: most specific first, the binary fallback last.

Adding a file type is a module with an ``explain(path, a, b, context)`` function, a line here and
a test.  An explainer returns None when it does not recognise the member.
"""

from __future__ import annotations

from ..base import Context, Explainer, Explanation, Member
from . import binary, elf, metadata, record, text

EXPLAINERS: tuple[tuple[str, Explainer], ...] = (
    ("record", record.explain),
    ("metadata", metadata.explain),
    ("elf", elf.explain),
    ("text", text.explain),
    ("binary", binary.explain),
)


def explain_member(path: str, a: Member, b: Member, context: Context) -> Explanation:
    """Ask each explainer in turn; the binary fallback always answers."""
    for _name, explainer in EXPLAINERS:
        explanation = explainer(path, a, b, context)
        if explanation is not None:
            return explanation
    raise AssertionError("the binary explainer recognises everything")  # pragma: no cover
