"""The evidence rules of pipeline.explain.causes, one table per rule."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from pipeline.explain.causes import (
    CAUSES,
    DESCRIPTIONS,
    classify_strings,
    classify_text,
    find_dates,
    find_paths,
    is_permutation,
    looks_random,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "causes.md"


@pytest.mark.parametrize(
    ("a", "b", "cause"),
    [
        (b'p = "/tmp/pip-req-build-k2j3/src"\n', b'p = "/tmp/pip-req-build-9xq1/src"\n', "build_path"),
        (b"file C:\\Users\\ci\\AppData\\x1\\mod.c\n", b"file C:\\Users\\ci\\AppData\\y2\\mod.c\n", "build_path"),
        (b"built 2024-01-01T10:00:00Z\n", b"built 2024-01-02T11:30:00Z\n", "timestamp"),
        (b'DATE = "May  1 2024"\n', b'DATE = "Jun 12 2024"\n', "timestamp"),
        (b"t = 1714560000\n", b"t = 1714563600\n", "timestamp"),
        (b"a\nb\nc\n", b"c\na\nb\n", "hash_seed_ordering"),
        (b"x = {'a', 'b', 'c'}\n", b"x = {'b', 'c', 'a'}\n", "hash_seed_ordering"),
        (b"salt = '3f9a0c17e2b4d685'\n", b"salt = 'c41e9b7a0d52f386'\n", "random_content"),
        (b"VERSION = 1\n", b"VERSION = 2\n", "content"),
        (b"see https://example.org/a/b\n", b"see https://example.org/a/c\n", "content"),
        # a path and a date both differ: the path is named first, both are noted
        (b"/tmp/b-1/x.c 2024-01-01\n", b"/tmp/b-2/x.c 2024-02-02\n", "build_path"),
        # a masked path does not hide a real change next to it
        (b"/tmp/b-1/x.c VALUE=1\n", b"/tmp/b-2/x.c VALUE=2\n", "content"),
    ],
)
def test_classify_text(a: bytes, b: bytes, cause: str) -> None:
    evidence = classify_text(a, b)
    assert evidence.cause == cause
    if cause != "content":
        assert evidence.notes


def test_both_rules_noted() -> None:
    evidence = classify_text(b"/tmp/b-1/x.c 2024-01-01\n", b"/tmp/b-2/x.c 2024-02-02\n")
    assert [note.split(":")[0] for note in evidence.notes] == ["build_path", "timestamp"]


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        (b'"/tmp/build-1/a.c"', {b"/tmp/build-1/a.c"}),
        (b"https://host/x/y and //net/share", set()),
        (b"a/b/c relative", set()),
        (b"cd /home/ci/work/pkg.", {b"/home/ci/work/pkg"}),
    ],
)
def test_find_paths(text: bytes, paths: set[bytes]) -> None:
    assert find_paths(text) == paths


def test_find_dates() -> None:
    assert find_dates(b"on 2024-05-01 12:00:03 and Wed May  1 12:00:00 2024") == {
        b"2024-05-01 12:00:03",
        b"May  1 12:00:00 2024",
    }


def test_looks_random() -> None:
    rng = random.Random(7)
    assert looks_random(rng.randbytes(512), rng.randbytes(512))
    assert not looks_random(b"a" * 512, rng.randbytes(512))  # low entropy side
    assert not looks_random(rng.randbytes(512), rng.randbytes(511))  # lengths differ
    same = rng.randbytes(512)
    assert not looks_random(same, same[:256] + rng.randbytes(256))  # half the positions agree


def test_permutation_needs_the_same_multiset() -> None:
    assert is_permutation(b"a b c", b"c b a") == "the same tokens in another order"
    assert is_permutation(b"a b c", b"a b d") is None
    assert is_permutation(b"same", b"same") is None


def test_classify_strings() -> None:
    assert classify_strings({b"GCC: 12"}, {b"GCC: 12 "}) is None
    found = classify_strings({b"/build/one/mod.c"}, {b"/build/two/mod.c"})
    assert found is not None and found.cause == "build_path"


def test_taxonomy_is_documented() -> None:
    assert set(DESCRIPTIONS) == set(CAUSES)
    headings = set(re.findall(r"^## `(\w+)`", DOC.read_text(), re.MULTILINE))
    assert headings == set(CAUSES)
