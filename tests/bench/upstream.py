"""Normalise-and-compare two ~50 MB wheels that differ only in how they were zipped (target < 2 s), and
the extra cost of the matching rebuild (the index's toolchain) against one controlled build.

The published side is the worst case for the passes: every member re-dated, the order reversed,
another deflate level, group-writable modes and extra fields, so every pass has work on every member.  The baseline is
sha256 of both files in the same process: the least any comparison has to do.

The matching rebuild is measured on real PyPI releases (network): one controlled build in a warm
environment is the baseline; the matching stage (infer, resolve with uv, make the environment,
build, compare) is timed cold (a fresh out/) and warm (its lock and environment kept).
"""

from __future__ import annotations

import functools
import os
import random
import struct
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Iterator

from pipeline.engine import sandbox
from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.interpreters import discover
from pipeline.records import Artifact
from pipeline.upstream import check_upstream, match_toolchain
from pipeline.upstream.compare import Match, classify
from tests.bench import Figure, best_of, hash_files

AREA = "upstream"
MB = 1024 * 1024
BINARY_MEMBERS = 70  # 500 KiB each of random bytes: incompressible, most of the file
TEXT_MEMBERS = 1200  # 64 KiB each of word soup: compresses ~3x, most of the inflate work
EXTENDED_TIMESTAMP = struct.pack("<HHBl", 0x5455, 5, 1, 1_730_000_000)


@functools.lru_cache(maxsize=1)
def _word_pool(size: int) -> bytes:
    rng = random.Random(6)
    words = [f"{w}_{i}" for i, w in enumerate("def return import self wheel path build class value data".split() * 30)]
    text = " ".join(rng.choices(words, k=size // 6)).encode()
    return text[:size]


def _members(changed: str | None) -> dict[str, bytes]:
    pool = _word_pool(8 * MB)
    rng = random.Random(7)
    members = {}
    for i in range(BINARY_MEMBERS):
        members[f"big/_lib{i:02d}.so"] = rng.randbytes(500 * 1024)
    for i in range(TEXT_MEMBERS):
        start = rng.randrange(len(pool) - 64 * 1024)
        members[f"big/mod{i:04d}.py"] = pool[start:start + 64 * 1024]
    if changed:
        members[changed] = members[changed][:-1] + b"!"
    members["big-1.0.dist-info/METADATA"] = b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\n"
    members["big-1.0.dist-info/RECORD"] = b""
    return members


def make_wheel(path: Path, published: bool, changed: str | None = None) -> int:
    """The rebuild (sorted, 1980, level 6) or the published one (reversed, 2024, level 1, extras)."""
    members = _members(changed)
    names = sorted(members, reverse=published)
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            info = zipfile.ZipInfo(name, (2024, 10, 1, 9, 30, 0) if published else (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100664 if published else 0o100644) << 16
            if published:
                info.extra = EXTENDED_TIMESTAMP
            archive.writestr(info, members[name], compresslevel=1 if published else 6)
    return sum(len(data) for data in members.values())


def _classify(rebuilt: Path, published: Path, workdir: Path):
    artifact = Artifact(rebuilt.name, published.as_uri(), None)
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        return classify(rebuilt, published, Match(artifact, "exact"), Path(scratch))


def run(workdir: Path) -> Iterator[Figure]:
    name = "big-1.0-py3-none-any.whl"
    rebuilt, published, changed = (workdir / side / name for side in ("rebuilt", "published", "changed"))
    for path in (rebuilt, published, changed):
        path.parent.mkdir(parents=True, exist_ok=True)
    uncompressed = make_wheel(rebuilt, published=False)
    make_wheel(published, published=True)
    make_wheel(changed, published=True, changed="big/mod0600.py")
    yield Figure(AREA, "wheel file size (rebuilt / published)", rebuilt.stat().st_size / MB, "MB")
    yield Figure(AREA, "uncompressed content (each)", uncompressed / MB, "MB")

    baseline = best_of(lambda: hash_files(rebuilt, published))
    yield Figure(AREA, "baseline: sha256 of both wheel files", baseline, "s")
    outcome = _classify(rebuilt, published, workdir)
    seconds = best_of(lambda: _classify(rebuilt, published, workdir))
    yield Figure(AREA, f"normalise both + compare -> {outcome.status}", seconds, "s", "< 2 s",
                 seconds < 2.0 and outcome.status == "equivalent")
    yield Figure(AREA, "normalise-and-compare / sha256-of-both ratio", seconds / baseline, "x")
    # wall time depends on what else the machine runs; CPU time (both threads) does not
    cpu = best_of(lambda: _classify(rebuilt, published, workdir), clock=time.process_time)
    yield Figure(AREA, "... CPU seconds for it (both normalising threads)", cpu, "s")
    yield Figure(AREA, "load average (1 min) while measuring", os.getloadavg()[0], f"on {os.cpu_count()} CPUs")

    different = _classify(rebuilt, changed, workdir)
    named = [d.path for d in different.differences if d.cause != "derived"]
    seconds = best_of(lambda: _classify(rebuilt, changed, workdir), runs=2)
    yield Figure(AREA, f"... one member changed -> {different.status}, names {','.join(named)}", seconds, "s",
                 "< 2 s", seconds < 2.0 and named == ["big/mod0600.py"])

    tracemalloc.start()
    _classify(rebuilt, published, workdir)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    yield Figure(AREA, "peak traced memory / one wheel's uncompressed content", peak / uncompressed, "x", "< 1",
                 peak < uncompressed)
    for path in (rebuilt, published, changed):
        path.unlink()
    for requirement in MATCHING:
        yield from _matching(workdir, requirement)


#: a flit wheel with one timestamp, and a setuptools wheel with several (the two timestamp rules)
MATCHING = ("jinja2==3.1.6", "six==1.17.0")


def _matching(workdir: Path, requirement: str) -> Iterator[Figure]:
    """One controlled build against the matching stage, cold then warm, in the same process."""
    name = requirement.split("==")[0]
    out = Path(tempfile.mkdtemp(prefix=f"match-{name}-", dir=workdir))
    out.chmod(0o755)
    checker = Checker(CheckOptions(out=out))
    interpreter = next(i for i in discover(("3.12", "3.11")).found)
    target = checker.target(requirement)
    with sandbox.lease_uid() as uid, checker.prepare(target, interpreter, uid) as prepared:
        checker.rebuild(prepared, 1)  # the controlled environment and page caches warmed
        started = time.perf_counter()
        build, _ = checker.rebuild(prepared, 1)
        controlled = time.perf_counter() - started
        today = check_upstream(checker.client, target.release, Path(build.path), checker.workspace.wheels_cache,
                               checker.workspace.scratch)
        timings = []
        for _ in ("cold", "warm"):
            started = time.perf_counter()
            matched = match_toolchain(checker, prepared, build, today)
            timings.append(time.perf_counter() - started)
    chain = matched.toolchain
    label = f"{name}: {today.status} today -> {matched.status} ({chain.status if chain else '-'})"
    yield Figure(AREA, f"{name}: one controlled build (warm environment)", controlled, "s")
    yield Figure(AREA, f"{label}, cold", timings[0], "s")
    yield Figure(AREA, f"{name}: matching stage cold / one controlled build", timings[0] / controlled, "x")
    yield Figure(AREA, f"{name}: matching stage warm (lock and env kept)", timings[1], "s")
    yield Figure(AREA, f"{name}: matching stage warm / one controlled build", timings[1] / controlled, "x",
                 "<= 3", timings[1] / controlled <= 3)
