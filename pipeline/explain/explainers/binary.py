"""Anything else: sizes, the first differing offset, and clues from the bytes around it."""

from __future__ import annotations

import re
from itertools import zip_longest
from typing import Iterator

from ..base import CHUNK, Context, Explanation, Member
from ..causes import Evidence, classify_strings, looks_random

_STRINGS_RE = re.compile(rb"[\x20-\x7e]{6,}")
#: how much of the differing span is examined for randomness
RANDOM_WINDOW = 64 * 1024


def printable_strings(data: bytes) -> set[bytes]:
    return set(_STRINGS_RE.findall(data))


def _rechunk(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


def first_difference(a: Member, b: Member) -> int | None:
    """Offset of the first differing byte, streaming both sides chunk by chunk."""
    offset = 0
    for ca, cb in zip_longest(_rechunk(a.chunks(), CHUNK), _rechunk(b.chunks(), CHUNK), fillvalue=b""):
        if ca != cb:
            n = min(len(ca), len(cb))
            return offset + next((i for i in range(n) if ca[i] != cb[i]), n)
        offset += len(ca)
    return None


def differing_span(a: bytes, b: bytes, start: int) -> tuple[bytes, bytes]:
    """The bytes from the first to the last differing position (same-length inputs)."""
    end = len(a)
    while end > start and a[end - 1] == b[end - 1]:
        end -= 1
    return a[start:end], b[start:end]


def string_evidence(da: bytes, db: bytes) -> tuple[Evidence | None, str]:
    """A cause from printable strings in one side only, and a short note on those strings."""
    sa, sb = printable_strings(da), printable_strings(db)
    only_a, only_b = sa - sb, sb - sa
    note = f"{len(only_a)} strings only in A, {len(only_b)} only in B" if only_a or only_b else ""
    return classify_strings(only_a, only_b), note


def explain(path: str, a: Member, b: Member, context: Context) -> Explanation | None:
    offset = first_difference(a, b)
    size = f"size {a.size} vs {b.size}" if a.size != b.size else f"size {a.size} (same)"
    detail = f"binary: {size}, first difference at offset {offset}"
    da, db = a.data(), b.data()
    if da is None or db is None:
        return Explanation(detail + " (too large to examine further)", "content")
    if offset is not None and len(da) == len(db):
        span_a, span_b = differing_span(da, db, offset)
        if looks_random(span_a[:RANDOM_WINDOW], span_b[:RANDOM_WINDOW]):
            return Explanation(f"{detail}; {len(span_a)} differing bytes look random", "random_content")
    evidence, note = string_evidence(da, db)
    if note:
        detail += f"; {note}"
    if evidence:
        return Explanation(f"{detail} [{evidence.text()}]", evidence.cause)
    return Explanation(detail, "content")
