"""The cause taxonomy (defined once) and the evidence rules that pick a cause for two byte strings.

Every rule is a pure function on plain values.  docs/causes.md documents the same rules for readers
of the site; keep the two in step.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Callable, Iterable, Literal, get_args

Cause = Literal[
    "timestamp",
    "file_mode",
    "build_path",
    "entry_order",
    "compression",
    "zip_metadata",
    "hash_seed_ordering",
    "random_content",
    "derived",
    "build_id",
    "content",
]
CAUSES: tuple[str, ...] = get_args(Cause)

#: one line per cause, shown on the site's legend and by ``--causes``
DESCRIPTIONS: dict[str, str] = {
    "timestamp": "a clock leaked in: zip entry dates, or date/time strings embedded in a file",
    "file_mode": "file permission bits (zip external attributes) differ: the umask leaked in",
    "build_path": "an absolute build directory is embedded (random temp dirs, debug info)",
    "entry_order": "the same entries in another order (directory listing order leaked in)",
    "compression": "the same bytes stored with another compression method or level",
    "zip_metadata": "other archive metadata: comments, extra fields, header versions, trailing bytes",
    "hash_seed_ordering": "the same lines or tokens in another order (set/dict iteration order)",
    "random_content": "same-length high-entropy bytes with no common structure (random ids, salts)",
    "derived": "a file computed from other files (RECORD) differs because they do",
    "build_id": "only the ELF GNU build-id differs; usually a symptom of a change elsewhere",
    "content": "a difference none of the rules above explains",
}
assert set(DESCRIPTIONS) == set(CAUSES)

# An absolute path starts a token: not after a word character, '/', '.', or ':' (so URLs do not
# count).  Two or more segments, so a lone "/" or "/tmp" in prose is not taken for a build path.
_POSIX_PATH = rb"(?<![\w/.:])/(?:[\w.+~@%=-]+/)+[\w.+~@%=-]*"
_WINDOWS_PATH = rb"\b[A-Za-z]:\\(?:[\w.+~@ -]+\\)+[\w.+~@-]*"
PATH_RE = re.compile(_POSIX_PATH + rb"|" + _WINDOWS_PATH)

_MONTH = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DATE_PATTERNS = (
    # ISO 8601 date with optional time and zone: 2024-05-01, 2024-05-01T12:00:03.123+00:00
    rb"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    # C __DATE__ / ctime / RFC 2822: "May  1 2024", "Wed May  1 12:00:00 2024", "1 May 2024"
    rb"\b" + _MONTH + rb" [ \d]\d(?: \d{2}:\d{2}:\d{2})? \d{4}\b",
    rb"\b\d{1,2} " + _MONTH + rb" \d{4}\b",
    # a bare clock time (C __TIME__)
    rb"\b\d{2}:\d{2}:\d{2}\b",
    # a Unix time between 2001 and 2033
    rb"\b1[0-9]{9}\b",
)
DATE_RE = re.compile(b"|".join(_DATE_PATTERNS))

_BLANKS = b" \t\r\n\x0b\x0c"
_TOKEN_RE = re.compile(rb"\w+|[^\w\s]")
_RANDOMISH_RE = re.compile(rb"[A-Za-z0-9+/=_-]{8,}")


def find_paths(data: bytes) -> set[bytes]:
    """Absolute paths embedded in ``data`` (POSIX or Windows)."""
    return {m.group(0).rstrip(b".") for m in PATH_RE.finditer(data)}


def find_dates(data: bytes) -> set[bytes]:
    """Date and time strings embedded in ``data``."""
    return {m.group(0) for m in DATE_RE.finditer(data)}


def shannon_entropy(data: bytes) -> float:
    """Bits per byte, 0..8."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def looks_random(a: bytes, b: bytes) -> bool:
    """Same length, each side close to the most entropy its length allows, few equal positions."""
    if len(a) != len(b) or len(a) < 16:
        return False
    ceiling = min(8.0, math.log2(len(a)))
    if shannon_entropy(a) < 0.85 * ceiling or shannon_entropy(b) < 0.85 * ceiling:
        return False
    same = sum(x == y for x, y in zip(a, b))
    return same / len(a) < 0.1  # independent random bytes agree at ~1/256 of positions


def _token_looks_random(token: bytes) -> bool:
    if not _RANDOMISH_RE.fullmatch(token):
        return False
    has_digit = any(48 <= c <= 57 for c in token)
    has_alpha = any(c >= 65 for c in token)
    return has_digit and has_alpha and len(set(token)) >= min(len(token) // 2, 8)


def _mask(data: bytes, strings: Iterable[bytes], placeholder: bytes) -> bytes:
    # longest first, so a path is not half-replaced by one of its own prefixes
    for s in sorted(strings, key=len, reverse=True):
        data = data.replace(s, placeholder)
    return data


@dataclass(frozen=True)
class Evidence:
    """The cause the rules chose, and the observations that led to it (short, human-readable)."""

    cause: Cause
    notes: tuple[str, ...] = ()

    def text(self) -> str:
        return "; ".join(self.notes)


def _clip(items: Iterable[bytes], limit: int = 2, width: int = 80) -> str:
    shown = sorted(items)[:limit]
    parts = [s.decode("utf-8", "replace")[:width] for s in shown]
    return ", ".join(parts)


def _masking_rule(
    name: Cause, finder: Callable[[bytes], set[bytes]], placeholder: bytes
) -> Callable[[bytes, bytes], tuple[bytes, bytes, str | None]]:
    def rule(a: bytes, b: bytes) -> tuple[bytes, bytes, str | None]:
        fa, fb = finder(a), finder(b)
        only_a, only_b = fa - fb, fb - fa
        if not (only_a or only_b):
            return a, b, None
        note = f"{name}: {_clip(only_a)} vs {_clip(only_b)}"
        return _mask(a, only_a, placeholder), _mask(b, only_b, placeholder), note

    return rule


#: strings that may differ without the file's meaning changing, most telling first
_MASKS: tuple[tuple[Cause, Callable[[bytes, bytes], tuple[bytes, bytes, str | None]]], ...] = (
    ("build_path", _masking_rule("build_path", find_paths, b"<path>")),
    ("timestamp", _masking_rule("timestamp", find_dates, b"<date>")),
)


def is_permutation(a: bytes, b: bytes) -> str | None:
    """Say how ``b`` is a reordering of ``a`` (lines, else tokens), or None."""
    # reordered tokens keep every non-blank byte: a cheap test that rules out most real changes
    if a == b or len(a.translate(None, _BLANKS)) != len(b.translate(None, _BLANKS)):
        return None
    if Counter(a.splitlines()) == Counter(b.splitlines()):
        return "the same lines in another order"
    if Counter(_TOKEN_RE.findall(a)) == Counter(_TOKEN_RE.findall(b)):
        return "the same tokens in another order"
    return None


def random_tokens(a: bytes, b: bytes) -> str | None:
    """When every differing token pair is same-length random-looking text, describe one pair."""
    ta, tb = _TOKEN_RE.findall(a), _TOKEN_RE.findall(b)
    pairs: list[tuple[bytes, bytes]] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag != "replace" or i2 - i1 != j2 - j1:
            return None
        pairs.extend(zip(ta[i1:i2], tb[j1:j2]))
    if not pairs:
        return None
    for x, y in pairs:
        if len(x) != len(y) or not (_token_looks_random(x) and _token_looks_random(y)):
            return None
    x, y = pairs[0]
    return f"random-looking tokens of equal length ({len(pairs)}): {x[:24].decode()} vs {y[:24].decode()}"


def differing_region(a: bytes, b: bytes) -> tuple[bytes, bytes]:
    """Both texts without their common leading and trailing lines (the rules need only the rest)."""
    n = min(len(a), len(b))
    start = 0
    step = 1 << 16
    while start < n and a[start : start + step] == b[start : start + step]:
        start += step
    while start < n and a[start] == b[start]:
        start += 1
    start = a.rfind(b"\n", 0, start) + 1  # back to a line start, so no token is cut
    end = 0
    while end + step <= n - start and a[len(a) - end - step : len(a) - end] == b[len(b) - end - step : len(b) - end]:
        end += step
    while end < n - start and a[len(a) - end - 1] == b[len(b) - end - 1]:
        end += 1
    tail = a[len(a) - end :]
    end = len(tail) - (tail.find(b"\n") + 1 if b"\n" in tail else 0)  # forward to a line end
    return a[start : len(a) - end], b[start : len(b) - end]


def classify_text(a: bytes, b: bytes) -> Evidence:
    """Pick a cause for two versions of a text file.

    Masking rules run in order and accumulate: the first rule that changed something is the cause
    when the masked texts end up equal; the notes keep every rule that fired.
    """
    a, b = differing_region(a, b)
    notes: list[str] = []
    fired: list[Cause] = []
    for cause, rule in _MASKS:
        a, b, note = rule(a, b)
        if note:
            notes.append(note)
            fired.append(cause)
        if a == b:
            return Evidence(fired[0], tuple(notes))
    order = is_permutation(a, b)
    if order:
        return Evidence("hash_seed_ordering", (*notes, order))
    tokens = random_tokens(a, b) if len(a) + len(b) < 400_000 else None
    if tokens:
        return Evidence("random_content", (*notes, tokens))
    return Evidence("content", tuple(notes))


def classify_strings(only_a: set[bytes], only_b: set[bytes]) -> Evidence | None:
    """Pick a cause from printable strings found in one binary and not the other (None: no clue)."""
    rules: tuple[tuple[Cause, str, Callable[[bytes], set[bytes]]], ...] = (
        ("build_path", "paths", find_paths),
        ("timestamp", "dates", find_dates),
    )
    for cause, what, finder in rules:
        found_a: set[bytes] = set().union(*(finder(s) for s in only_a))
        found_b: set[bytes] = set().union(*(finder(s) for s in only_b))
        if found_a != found_b:
            note = f"{what} only in A: {_clip(found_a - found_b)}; only in B: {_clip(found_b - found_a)}"
            return Evidence(cause, (note,))
    return None
