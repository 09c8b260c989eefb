"""The search for what a wheel is sensitive to: pure over an injected build, then run with real builds.

:func:`search_sensitive` adds the variations along one path (in :data:`VARIATIONS` order) and
bisects between builds whose hashes differ: a stretch of the path whose two ends give the same
wheel is taken to hold no change.  A package sensitive to one variation of sixteen therefore costs
the all-variations build plus at most ceil(log2(16)) = 4 more, because a half whose build equals
either end is settled by that one build.  Each variation named in ``sensitive_to`` is one whose
addition changed the wheel in a measured pair of builds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..engine.build import BuildSettings
from ..records import VARIATIONS, Difference, VariationOutcome
from ..records import Build as BuildRecord
from .variations import Machine, unavailable, vary

Builder = Callable[[frozenset[str]], "str | None"]


@dataclass(frozen=True)
class Search:
    """Outcome of the search: each tested variation's verdict, and every build it cost."""

    variations: dict[str, VariationOutcome]
    sensitive_to: tuple[str, ...]
    probes: tuple[tuple[frozenset[str], str | None], ...] = field(default=())

    @property
    def builds(self) -> int:
        return len(self.probes)

    @property
    def all_varied(self) -> str | None:
        """The hash of the build with every tested variation (the first probe)."""
        return self.probes[0][1] if self.probes else None


def search_sensitive(names: Sequence[str], controlled: str, build: Builder) -> Search:
    """Which of ``names`` change the wheel whose controlled hash is ``controlled``.

    ``build`` returns the wheel's sha256 under a set of variations (None when no wheel came out,
    which counts as a different outcome).  One build with everything; bisection only if it differs.
    """
    order = tuple(name for name in VARIATIONS if name in set(names)) + tuple(n for n in names if n not in VARIATIONS)
    probes: list[tuple[frozenset[str], str | None]] = []

    def measure(subset: tuple[str, ...]) -> str | None:
        sha = build(frozenset(subset))
        probes.append((frozenset(subset), sha))
        return sha

    def find(group: tuple[str, ...], background: tuple[str, ...], low: str | None, high: str | None) -> list[str]:
        # builds with `background` give `low`, with background + group give `high`, and low != high
        if len(group) == 1:
            return [group[0]]
        half = (len(group) + 1) // 2
        left, right = group[:half], group[half:]
        middle = measure(background + left)
        if middle == low:
            return find(right, background + left, low, high)
        if middle == high:
            return find(left, background, low, high)
        return find(left, background, low, middle) + find(right, background + left, middle, high)

    if not order:
        return Search({}, ())
    everything = measure(order)
    sensitive = [] if everything == controlled else find(order, (), controlled, everything)
    verdicts: dict[str, VariationOutcome] = {n: "differs" if n in sensitive else "same" for n in order}
    return Search(verdicts, tuple(sensitive), tuple(probes))


def all_outcomes(search: Search, untested: Iterable[str]) -> dict[str, VariationOutcome]:
    """Every variation name with its verdict, in the canonical order."""
    merged: dict[str, VariationOutcome] = {name: "not-tested" for name in untested}
    merged.update(search.variations)
    return {name: merged.get(name, "not-tested") for name in VARIATIONS}


# -- running it: real builds behind the search -----------------------------------------------------
BuildOne = Callable[[BuildSettings, str], "tuple[BuildRecord, str]"]


@dataclass(frozen=True)
class VaryOutcome:
    """What the strict check adds to a reproducible result."""

    variations: dict[str, VariationOutcome]
    sensitive_to: tuple[str, ...]
    builds: tuple[BuildRecord, ...]
    differences: tuple[Difference, ...]
    message: str


def run_variations(controlled: BuildRecord, base: BuildSettings, machine: Machine, build_one: BuildOne,
                   compare: Callable[[Path, Path], Sequence[Difference]]) -> VaryOutcome:
    """Search with real builds: ``build_one(settings, label)`` builds once, ``compare`` explains."""
    skipped = unavailable(base, machine)
    builds: list[BuildRecord] = []
    failures: list[str] = []

    def build(subset: frozenset[str]) -> str | None:
        record, reason = build_one(vary(base, subset, machine), f"vary-{len(builds) + 1}")
        builds.append(record)
        if reason:
            failures.append(f"{'+'.join(record.variations)}: {reason}")
        return record.sha256

    search = search_sensitive([n for n in VARIATIONS if n not in skipped], controlled.sha256, build)
    differences: tuple[Difference, ...] = ()
    if builds and builds[0].path and builds[0].sha256 != controlled.sha256:
        differences = tuple(compare(Path(controlled.path), Path(builds[0].path)))
    notes = [f"not tested: {', '.join(f'{n} ({why})' for n, why in skipped.items())}"] if skipped else []
    if failures:
        notes.append(f"variation builds without a wheel: {'; '.join(failures)}")
    return VaryOutcome(all_outcomes(search, skipped), search.sensitive_to, tuple(builds), differences, "; ".join(notes))
