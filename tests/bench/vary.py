"""What the strict check costs: extra builds to find one sensitive variation, against 1 + ceil(log2(10)).

Two measurements: the pure search over a model package sensitive to each variation in turn (the
worst position decides), and a real ``check --vary`` of a fixture sdist that writes its build
directory (``build_path`` is first in the order, one of the positions that needs the most builds).
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Iterator

from pipeline.engine import sandbox
from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.interpreters import discover
from pipeline.records import VARIATIONS
from pipeline.vary import search_sensitive
from tests.bench import Figure

BOUND = 1 + math.ceil(math.log2(len(VARIATIONS)))
CONTROLLED = "0" * 64


def _model_builds(sensitive: frozenset[str]) -> int:
    def build(subset: frozenset[str]) -> str:
        hit = sorted(subset & sensitive)
        return hashlib.sha256(",".join(hit).encode()).hexdigest() if hit else CONTROLLED

    search = search_sensitive(VARIATIONS, CONTROLLED, build)
    assert set(search.sensitive_to) == sensitive, (search.sensitive_to, sensitive)
    return search.builds


def run(workdir: Path) -> Iterator[Figure]:
    singles = [_model_builds(frozenset({name})) for name in VARIATIONS]
    yield Figure("vary", "model, one sensitive variation: worst of 10 positions", max(singles), "builds",
                 f"<= {BOUND}", max(singles) <= BOUND)
    yield Figure("vary", "model, one sensitive variation: mean over positions", sum(singles) / len(singles), "builds")
    yield Figure("vary", "model, nothing sensitive", _model_builds(frozenset()), "builds", "= 1",
                 _model_builds(frozenset()) == 1)
    pairs = [_model_builds(frozenset({a, b})) for i, a in enumerate(VARIATIONS) for b in VARIATIONS[i + 1:]]
    yield Figure("vary", "model, two sensitive variations: worst of 45 pairs", max(pairs), "builds")

    # the fixture backend lives with the tests; the bench runs from the repository root
    from tests.sdists import intree_sdist

    sdist = workdir / "vbench-1.0.tar.gz"
    sdist.write_bytes(intree_sdist("vbench", "1.0", "build-path"))
    out = workdir / "out"
    wheelhouse = Path("out/cache/wheelhouse").resolve()
    checker = Checker(CheckOptions(out=out, find_links=(str(wheelhouse),) if wheelhouse.is_dir() else (), vary=True))
    interpreter = next(iter(discover(("3.12", "3.11")).found))
    target = checker.target(str(sdist))
    with sandbox.lease_uid() as uid, checker.prepare(target, interpreter, uid):
        pass  # the environment is made outside the timing
    started = time.monotonic()
    result = checker.check(target, interpreter)
    seconds = time.monotonic() - started
    extra = len(result.builds) - 2
    found = result.sensitive_to == ("build_path",)
    yield Figure("vary", f"fixture writing its build dir -> sensitive to {','.join(result.sensitive_to) or '-'}",
                 float(found), "bool", "= 1", found)
    yield Figure("vary", "fixture writing its build dir: extra builds", extra, "builds", f"<= {BOUND}", extra <= BOUND)
    yield Figure("vary", "fixture: whole check --vary (2 controlled + extra builds)", seconds, "s")
    yield Figure("vary", "extra builds / one-at-a-time (1 + 10)", extra / (1 + len(VARIATIONS)), "x")
