"""Explain why two wheels differ: member by member, with a cause from docs/causes.md for each.

``compare_wheels`` is the entry point; ``format_differences`` turns its result into a few lines
for a terminal.  The library never prints: ``pipeline.cli.diff`` does.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..errors import WheelOverCap, WheelUnreadable
from ..engine.fetch import sha256_of
from ..records import Difference
from .base import MEMBER_CAP, Context, Member
from .causes import CAUSES, DESCRIPTIONS, Cause
from .diffoscope import DiffoscopeReport, run_diffoscope
from .explainers import EXPLAINERS, explain_member
from .limits import ZIP_LIMITS, ZipLimits, count_members, member_problem, open_zip
from .zipdiff import (
    READ_ERRORS,
    changed_members,
    entries,
    first_byte_difference,
    membership_differences,
    metadata_differences,
    order_difference,
)

__all__ = [
    "CAUSES",
    "DESCRIPTIONS",
    "EXPLAINERS",
    "Cause",
    "DiffoscopeReport",
    "WheelComparison",
    "ZipLimits",
    "compare_wheels",
    "format_differences",
    "run_diffoscope",
]

#: members explained one by one; past this, differing members are listed without a cause
EXPLAIN_LIMIT = 200


@dataclass(frozen=True)
class WheelComparison:
    """The outcome of comparing two wheels: the file hashes and every difference found."""

    a: str
    b: str
    sha256_a: str
    sha256_b: str
    identical: bool
    differences: tuple[Difference, ...] = ()
    members_a: int = 0
    members_b: int = 0
    members_changed: int = 0
    diffoscope: DiffoscopeReport | None = None

    @property
    def causes(self) -> dict[str, int]:
        """How many differences each cause accounts for, most frequent first."""
        return dict(Counter(d.cause or "unexplained" for d in self.differences).most_common())

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "sha256_a": self.sha256_a,
            "sha256_b": self.sha256_b,
            "identical": self.identical,
            "members_a": self.members_a,
            "members_b": self.members_b,
            "members_changed": self.members_changed,
            "causes": self.causes,
            "differences": [d.to_json() for d in self.differences],
            "diffoscope": self.diffoscope.to_json() if self.diffoscope else None,
        }


def _file_digest(path: Path) -> str:
    try:
        return sha256_of(path)
    except OSError as error:
        raise WheelUnreadable(str(path), error.strerror or str(error)) from None


def _member(archive: zipfile.ZipFile, name: str, cap: int) -> Member:
    info = archive.getinfo(name)
    return Member(name, info.file_size, lambda: archive.open(info), cap)


def compare_wheels(
    a: Path,
    b: Path,
    *,
    diffoscope_dir: Path | None = None,
    diffoscope_timeout: float = 300.0,
    member_cap: int = MEMBER_CAP,
    explain_limit: int = EXPLAIN_LIMIT,
    limits: ZipLimits = ZIP_LIMITS,
) -> WheelComparison:
    """Compare two wheels (any two zips) and explain each difference.

    With ``diffoscope_dir``, differing wheels also get diffoscope's HTML report there (when the
    tool is installed and finishes in ``diffoscope_timeout`` seconds; otherwise the reason is kept).
    Either wheel is a stranger's zip: over ``limits`` (members, inflated size), the two are not
    compared member by member, and a member over the ratio cap is never inflated; each says so in a
    difference, and the hashes still say whether they differ.
    Raises WheelUnreadable when either file is missing, not a zip, or has a corrupt member.
    """
    a, b = Path(a), Path(b)
    sha_a, sha_b = _file_digest(a), _file_digest(b)
    if sha_a == sha_b:
        try:
            count = count_members(a, limits)
        except WheelOverCap:
            count = 0  # identical bytes: how many members there are does not change the answer
        return WheelComparison(str(a), str(b), sha_a, sha_b, True, (), count, count, 0)
    with contextlib.ExitStack() as stack:
        try:
            za = stack.enter_context(open_zip(a, limits))
            zb = stack.enter_context(open_zip(b, limits))
        except WheelOverCap as error:
            return _not_compared(a, b, sha_a, sha_b, error)
        ea, dup_a = entries(za)
        eb, dup_b = entries(zb)
        # why each member that must not be inflated (a bomb's ratio) is not, A's reason when both are
        over = {name: problem for side in (eb, ea) for name, e in side.items()
                if (problem := member_problem(name, e.file_size, e.compress_size, limits))}
        try:
            changed = changed_members(za, zb, ea, eb, over)
            context = Context(frozenset(changed), frozenset(ea.keys() - eb.keys()), frozenset(eb.keys() - ea.keys()))
            content = [_explain(za, zb, name, context, member_cap) if name not in over
                       else Difference(name, "content", f"not examined: {over[name]}")
                       for name in changed[:explain_limit]]
        except WheelUnreadable:
            raise
        except READ_ERRORS as error:
            raise WheelUnreadable(f"{a} or {b}", f"corrupt member: {error}") from None
        content += [Difference(n, "content", "not examined: over the explain limit") for n in changed[explain_limit:]]
        differences = membership_differences(ea, eb) + content + metadata_differences(ea, eb, changed)
        order = order_difference(ea, eb)
        if order:
            differences.append(order)
        if za.comment != zb.comment:
            differences.append(Difference("", "comment", f"{za.comment[:40]!r} vs {zb.comment[:40]!r}", "zip_metadata"))
        if dup_a or dup_b:
            detail = f"duplicate member names: A {sorted(set(dup_a))[:3]}, B {sorted(set(dup_b))[:3]}"
            differences.append(Difference("", "duplicate", detail, "zip_metadata"))
    if not differences:
        # the bytes differ somewhere none of the facts above covers (local headers, padding, ...)
        offset = first_byte_difference(str(a), str(b))
        detail = f"archive bytes differ outside the compared members and metadata, first at offset {offset}"
        differences.append(Difference("", "archive", detail, "zip_metadata"))
    report = None
    if diffoscope_dir is not None:
        stem = a.name if a.name == b.name else f"{a.name}--{b.name}"
        html = Path(diffoscope_dir) / f"{stem}.diffoscope.html"
        if over:  # it would inflate the bomb: its own limits would stop it, but only after the damage
            report = DiffoscopeReport(None, f"diffoscope not run: {next(iter(over.values()))}")
        else:
            report = run_diffoscope(a, b, html, diffoscope_timeout)
    return WheelComparison(
        str(a), str(b), sha_a, sha_b, False, tuple(differences), len(ea), len(eb), len(changed), report
    )


def _not_compared(a: Path, b: Path, sha_a: str, sha_b: str, error: WheelOverCap) -> WheelComparison:
    """Two wheels one of which is over a cap: the hashes differ, and that is all that is measured."""
    side = "A" if error.path == str(a) else "B"
    detail = f"not compared member by member: {side} ({Path(error.path).name}) has {error.reason}; nothing inflated"
    return WheelComparison(str(a), str(b), sha_a, sha_b, False, (Difference("", "archive", detail),))


def _explain(za: zipfile.ZipFile, zb: zipfile.ZipFile, name: str, context: Context, cap: int) -> Difference:
    # the two Members (and any bytes they loaded) live only for this call
    explanation = explain_member(name, _member(za, name, cap), _member(zb, name, cap), context)
    return Difference(name, "content", explanation.full_detail(), explanation.cause)


def format_differences(differences: Iterable[Difference], limit: int = 20, *, excerpts: bool = False) -> list[str]:
    """A few readable lines: cause, kind, member and the first line of the detail (plus excerpts)."""
    differences = list(differences)
    lines = []
    for difference in differences[:limit]:
        first, *rest = (difference.detail or "").splitlines() or [""]
        where = difference.path or "(archive)"
        line = f"{difference.cause or 'unexplained':<18} {difference.kind:<11} {where}: {first}"
        lines.append(line if len(line) <= 220 else line[:217] + "...")
        if excerpts:
            lines.extend(f"    {extra}" for extra in rest)
    if len(differences) > limit:
        lines.append(f"... and {len(differences) - limit} more differences")
    return lines
