"""RECORD (and its signatures) list every member's hash: they differ because members do."""

from __future__ import annotations

import csv
import io

from ..base import Context, Explanation, Member, clip_list, plural

_SUFFIXES = (".dist-info/RECORD", ".dist-info/RECORD.jws", ".dist-info/RECORD.p7s")


def _rows(data: bytes) -> list[tuple[str, str, str]]:
    reader = csv.reader(io.StringIO(data.decode("utf-8", "replace")))
    return [(row[0], row[1] if len(row) > 1 else "", row[2] if len(row) > 2 else "") for row in reader if row]


def explain(path: str, a: Member, b: Member, context: Context) -> Explanation | None:
    if not path.endswith(_SUFFIXES):
        return None
    if not path.endswith("RECORD"):
        return Explanation("signature over RECORD differs", "derived")
    da, db = a.data(), b.data()
    if da is None or db is None:
        return None
    rows_a, rows_b = _rows(da), _rows(db)
    if sorted(rows_a) == sorted(rows_b):
        return Explanation("the same rows in another order", "entry_order")
    hashes_a = {p: h for p, h, _ in rows_a}
    hashes_b = {p: h for p, h, _ in rows_b}
    changed = sorted(p for p in hashes_a.keys() & hashes_b.keys() if hashes_a[p] != hashes_b[p])
    added = sorted(hashes_b.keys() - hashes_a.keys())
    removed = sorted(hashes_a.keys() - hashes_b.keys())
    parts = []
    if changed:
        parts.append(f"hash changed for {plural(len(changed), 'member')}: {clip_list(changed)}")
    if added:
        parts.append(f"rows added: {clip_list(added)}")
    if removed:
        parts.append(f"rows removed: {clip_list(removed)}")
    if not parts:
        # same paths and hashes, so only the sizes column or quoting changed: not derived
        return Explanation("rows differ outside the hash column", "content")
    # a hash RECORD says changed, for a member whose bytes are equal in both archives: a stale RECORD
    stale = [p for p in changed if context.changed and p not in context.changed]
    tail = f"; but the bytes are equal in both archives for {clip_list(stale)}" if stale else ""
    return Explanation("derived: " + "; ".join(parts) + tail, "derived")
