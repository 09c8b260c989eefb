"""ELF shared objects: which sections differ, strings found in one and not the other.

The GNU build-id hashes the rest of the file, so it changes whenever anything else does: it is
reported as a symptom and is the cause only when nothing else differs.
"""

from __future__ import annotations

from ..base import Context, Explanation, Member, clip_list
from ..causes import looks_random
from ..elffile import ELF_MAGIC, INFLATE_BUDGET, ELFError, parse
from .binary import string_evidence

_BUILD_ID = ".note.gnu.build-id"


def explain(path: str, a: Member, b: Member, context: Context) -> Explanation | None:
    if not (a.head(4) == ELF_MAGIC and b.head(4) == ELF_MAGIC):
        return None
    da, db = a.data(), b.data()
    if da is None or db is None:
        return None
    try:
        ea, eb = parse(da), parse(db)
    except ELFError:
        return None  # malformed: the binary explainer still reports sizes and offsets
    sa, sb = ea.by_name(), eb.by_name()
    only_a = sorted(sa.keys() - sb.keys())
    only_b = sorted(sb.keys() - sa.keys())
    changed = [
        name for name in sa if name in sb and ea.section_bytes(sa[name]) != eb.section_bytes(sb[name])
    ]
    others = [name for name in changed if name != _BUILD_ID]
    id_a, id_b = ea.build_id(), eb.build_id()
    # strings are searched only where the files differ, in inflated form for compressed debug info
    strings_a, capped_a = ea.contents([sa[n] for n in others + only_a if n != _BUILD_ID])
    strings_b, capped_b = eb.contents([sb[n] for n in others + only_b if n != _BUILD_ID])
    evidence, note = string_evidence(strings_a, strings_b)
    if capped_a or capped_b:
        budget = f"{INFLATE_BUDGET // (1024 * 1024)} MiB"
        note = "; ".join(filter(None, (note, f"compressed sections past {budget} inflated were searched as stored")))
    # most telling first: a terminal line shows only the start of the detail
    parts = [f"sections differ: {clip_list(others, 5)}"] if others else []
    if evidence:
        parts.append(evidence.text())
    if only_a or only_b:
        parts.append(f"sections only in A: {clip_list(only_a)}; only in B: {clip_list(only_b)}")
    if id_a != id_b:
        symptom = " (symptom)" if others or only_a or only_b else ""
        parts.append(f"build-id {(id_a or 'none')[:12]} -> {(id_b or 'none')[:12]}{symptom}")
    if note:
        parts.append(note)
    detail = "ELF: " + ("; ".join(parts) or "sections equal; headers or layout differ")
    if evidence:
        return Explanation(detail, evidence.cause)
    if id_a != id_b and not (others or only_a or only_b):
        return Explanation(detail + " (nothing else differs)", "build_id")
    if others and not (only_a or only_b) and all(
        looks_random(ea.section_bytes(sa[n]), eb.section_bytes(sb[n])) for n in others
    ):
        return Explanation(detail + " [the differing sections look random]", "random_content")
    return Explanation(detail, "content")
