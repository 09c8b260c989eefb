"""`nox -s bench`: each module here measures one area and yields figures (ratios where possible)."""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from pipeline.engine.fetch import sha256_of

#: area name -> module whose ``run(workdir: Path) -> Iterable[Figure]`` measures it
BENCHMARKS: dict[str, str] = {
    "check": "tests.bench.check",
    "sandbox": "tests.bench.sandbox",
    "explain": "tests.bench.explain",
    "nightly": "tests.bench.nightly",
    "vary": "tests.bench.vary",
    "site": "tests.bench.site",
    "upstream": "tests.bench.upstream",
}


@dataclass(frozen=True)
class Figure:
    """One measured figure, with the target it is judged against."""

    area: str
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None

    def line(self) -> str:
        verdict = "" if self.ok is None else ("  ok" if self.ok else "  MISSED")
        target = f"  (target {self.target})" if self.target else ""
        return f"{self.area:<10} {self.name:<58} {self.value:>10.3f} {self.unit}{target}{verdict}"


def best_of(action: Callable[[], object], runs: int = 3, clock: Callable[[], float] = time.perf_counter) -> float:
    """The fastest of ``runs`` timings: the least disturbed by whatever else the machine does."""
    best = float("inf")
    for _ in range(runs):
        started = clock()
        action()
        best = min(best, clock() - started)
    return best


def hash_files(*paths: Path) -> None:
    """The baseline: read and sha256 every byte once."""
    for path in paths:
        sha256_of(path)


def run(areas: Iterable[str], workdir: Path) -> Iterator[Figure]:
    """Run the named areas (all when empty) and yield their figures as they come."""
    chosen = list(areas) or list(BENCHMARKS)
    for area in chosen:
        module = importlib.import_module(BENCHMARKS[area])
        runner: Callable[[Path], Iterable[Figure]] = module.run
        area_dir = workdir / area
        area_dir.mkdir(parents=True, exist_ok=True)
        yield from runner(area_dir)
