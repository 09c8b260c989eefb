"""Comparing two ~50 MB wheels: wall time (target < 2 s) and peak memory (less than one wheel's content)."""

from __future__ import annotations

import random
import tracemalloc
import zipfile
from pathlib import Path
from typing import Iterator

from pipeline.explain import compare_wheels
from tests.bench import Figure, best_of, hash_files

AREA = "explain"
MB = 1024 * 1024
RANDOM_MEMBERS = 100  # 400 KiB each: incompressible, most of the file size
TEXT_MEMBERS = 60  # 1 MiB each: compressible, most of the decompression work
DIFFERING = {"pkg/blob_007.bin", "pkg/text_011.txt", "pkg/_paths.py"}


def _text(seed: int, size: int) -> bytes:
    rng = random.Random(seed)
    words = [f"{w}{i}" for i, w in enumerate("alpha beta gamma delta wheel build path seed zip byte".split())]
    line = " ".join(rng.choice(words) for _ in range(4096)).encode() + b"\n"
    return (line * (size // len(line) + 1))[:size]


def _members(side: str) -> Iterator[tuple[str, bytes]]:
    for i in range(RANDOM_MEMBERS):
        name = f"pkg/blob_{i:03d}.bin"
        seed = i + (10_000 if side == "b" and name in DIFFERING else 0)
        yield name, random.Random(seed).randbytes(400 * 1024)
    for i in range(TEXT_MEMBERS):
        name = f"pkg/text_{i:03d}.txt"
        data = _text(i, MB)
        if side == "b" and name in DIFFERING:
            data = data[: MB // 2] + b"changed" + data[MB // 2 + 7 :]
        yield name, data
    yield "pkg/_paths.py", f'BUILD = "/tmp/pip-req-build-{"q7x2" if side == "a" else "k9w4"}/src"\n'.encode()


def make_wheel(path: Path, side: str) -> int:
    """Write one side's wheel; return its uncompressed content size."""
    total = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in _members(side):
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
            total += len(data)
    return total


def run(workdir: Path) -> Iterator[Figure]:
    a, b = workdir / "big-1.0-py3-none-any.whl.a", workdir / "big-1.0-py3-none-any.whl.b"
    uncompressed = make_wheel(a, "a")
    make_wheel(b, "b")
    yield Figure(AREA, "wheel file size (each)", a.stat().st_size / MB, "MB")
    yield Figure(AREA, "uncompressed content (each)", uncompressed / MB, "MB")

    baseline = best_of(lambda: hash_files(a, b))
    seconds = best_of(lambda: compare_wheels(a, b))
    yield Figure(AREA, "baseline: sha256 of both wheel files", baseline, "s")
    yield Figure(AREA, "compare_wheels on the two wheels", seconds, "s", "< 2 s", seconds < 2.0)
    yield Figure(AREA, "compare_wheels / sha256-of-both ratio", seconds / baseline, "x")

    tracemalloc.start()
    comparison = compare_wheels(a, b)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    found = {d.path for d in comparison.differences if d.kind == "content"} - {""}
    yield Figure(AREA, "differing members found (3 planted)", len(found), "members", "= 3", found == DIFFERING)
    yield Figure(
        AREA, "peak traced memory during compare", peak / MB, "MB", "< 1 wheel's content", peak < uncompressed
    )
    ratio = peak / uncompressed
    yield Figure(AREA, "peak memory / one wheel's uncompressed content", ratio, "x", "< 1", ratio < 1)
    a.unlink()
    b.unlink()
