"""What the strict check costs: extra builds to find one sensitive variation, against 1 + ceil(log2(16)).

Two measurements: the pure search over a model package sensitive to each variation in turn (the
worst position decides), and real ``check --vary`` runs of fixture sdists: one that writes its build
directory (``build_path``, first in the order) and one that lists its own folder (``file_order``,
which must be blamed, not ``build_path``).
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
    yield Figure("vary", f"model, one sensitive variation: worst of {len(VARIATIONS)} positions", max(singles), "builds",
                 f"<= {BOUND}", max(singles) <= BOUND)
    yield Figure("vary", "model, one sensitive variation: mean over positions", sum(singles) / len(singles), "builds")
    yield Figure("vary", "model, nothing sensitive", _model_builds(frozenset()), "builds", "= 1",
                 _model_builds(frozenset()) == 1)
    pairs = [_model_builds(frozenset({a, b})) for i, a in enumerate(VARIATIONS) for b in VARIATIONS[i + 1:]]
    yield Figure("vary", f"model, two sensitive variations: worst of {len(pairs)} pairs", max(pairs), "builds",
                 f"<= {1 + 2 * (BOUND - 1)}", max(pairs) <= 1 + 2 * (BOUND - 1))

    # the fixture backend lives with the tests; the bench runs from the repository root
    from tests.sdists import intree_sdist

    out = workdir / "out"
    wheelhouse = Path("out/cache/wheelhouse").resolve()
    checker = Checker(CheckOptions(out=out, find_links=(str(wheelhouse),) if wheelhouse.is_dir() else (), vary=True))
    interpreter = next(iter(discover(("3.12", "3.11")).found))
    for behaviour, expected, what in FIXTURES:
        name = "vbench" + behaviour.replace("-", "")
        sdist = workdir / f"{name}-1.0.tar.gz"
        sdist.write_bytes(intree_sdist(name, "1.0", behaviour))
        target = checker.target(str(sdist))
        with sandbox.lease_uid() as uid, checker.prepare(target, interpreter, uid):
            pass  # the environment is made outside the timing
        started = time.monotonic()
        result = checker.check(target, interpreter)
        seconds = time.monotonic() - started
        extra = len(result.builds) - 2
        found = result.sensitive_to == (expected,)
        yield Figure("vary", f"{what} -> sensitive to {','.join(result.sensitive_to) or '-'}",
                     float(found), "bool", "= 1", found)
        yield Figure("vary", f"{what}: extra builds", extra, "builds", f"<= {BOUND}", extra <= BOUND)
        yield Figure("vary", f"{what}: 2 + {extra} builds, wall", seconds, "s")
        yield Figure("vary", f"{what}: extra / one at a time ({len(VARIATIONS)})",
                     extra / len(VARIATIONS), "x")


FIXTURES = (  # behaviour, the variation it must be blamed on, what it does
    ("build-path", "build_path", "fixture writing its build dir"),
    ("file-order", "file_order", "fixture listing its folder"),
)
