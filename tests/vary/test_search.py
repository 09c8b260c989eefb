"""The search for what a wheel is sensitive to, without builds: build counts and verdicts."""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path

import pytest

from pipeline import vary
from pipeline.engine.build import BuildSettings
from pipeline.records import VARIATIONS, Build, Difference

BOUND = 1 + math.ceil(math.log2(len(VARIATIONS)))  # builds for a package sensitive to one variation
CONTROLLED = "c" * 64


def model(sensitive: set[str]):
    """A package whose wheel depends on exactly ``sensitive``, each acting on its own bytes."""
    calls: list[frozenset[str]] = []

    def build(subset: frozenset[str]) -> str:
        calls.append(subset)
        hit = sorted(subset & sensitive)
        return CONTROLLED if not hit else hashlib.sha256(",".join(hit).encode()).hexdigest()

    return build, calls


# builds, worked out by hand: sixteen names halve 8|8, 4|4, 2|2, 1|1, so every position costs the
# all-variations build and one build a level (ten, before, cost 4 or 5 depending on the position)
ONE_SENSITIVE = 1 + 4


BARE = vary.Machine(isolated=False, faketime=None, locale=None, cpus=frozenset({0}), zoneinfo=False)


BASE = BuildSettings(build_dir=Path("/tmp/wheelrepro/cp311/pkg-1.0"))


def _record(settings: BuildSettings, sha: str | None, path: str | None = None) -> Build:
    return Build(wheel="w.whl" if sha else None, sha256=sha, seconds=0.1, path=path, log="log", returncode=0,
                 build_dir=str(settings.build_dir), variations=settings.variations)


def test_an_insensitive_package_costs_one_build_and_every_variation_is_same():
    build, calls = model(set())
    search = vary.search_sensitive(VARIATIONS, CONTROLLED, build)

    assert search.builds == len(calls) == 1
    assert calls == [frozenset(VARIATIONS)]
    assert search.sensitive_to == () and set(search.variations.values()) == {"same"}


@pytest.mark.parametrize("name", VARIATIONS)
def test_one_sensitive_variation_is_found_within_the_bound(name):
    build, calls = model({name})
    search = vary.search_sensitive(VARIATIONS, CONTROLLED, build)

    assert search.sensitive_to == (name,)
    assert search.variations[name] == "differs"
    assert [n for n, v in search.variations.items() if v == "same"] == [n for n in VARIATIONS if n != name]
    assert search.builds == ONE_SENSITIVE == BOUND == 5
    assert len(set(calls)) == len(calls), "no set of variations is built twice"


@pytest.mark.parametrize("pair, builds", [
    (("build_path", "file_order"), 8),  # one in each half: both halves are searched, 3 builds each
    (("time", "timezone"), 6),  # neighbours: the split between them is found on the way down
    (("umask", "hostname"), 5),  # one quarter (4-7) whose halves each hold one: one build settles both
])
def test_two_sensitive_variations_are_both_found(pair, builds):
    build, _ = model(set(pair))
    search = vary.search_sensitive(VARIATIONS, CONTROLLED, build)

    assert search.sensitive_to == pair
    assert search.builds == builds


def test_every_pair_is_found_within_twice_the_depth():
    for pair in itertools.combinations(VARIATIONS, 2):
        build, _ = model(set(pair))
        search = vary.search_sensitive(VARIATIONS, CONTROLLED, build)
        assert search.sensitive_to == pair
        assert search.builds <= 1 + 2 * (BOUND - 1), pair


def test_a_variation_under_which_the_build_fails_counts_as_a_difference():
    def build(subset: frozenset[str]) -> str | None:
        return None if "locale" in subset else CONTROLLED

    search = vary.search_sensitive(VARIATIONS, CONTROLLED, build)
    assert search.sensitive_to == ("locale",)
    assert search.all_varied is None


def test_only_the_names_given_are_searched():
    build, calls = model({"umask", "cpu_count"})
    search = vary.search_sensitive(["umask", "home"], CONTROLLED, build)

    assert search.sensitive_to == ("umask",)
    assert set(search.variations) == {"umask", "home"}
    assert all(subset <= {"umask", "home"} for subset in calls)
    outcomes = vary.all_outcomes(search, ["cpu_count"])
    assert list(outcomes) == list(VARIATIONS)
    assert outcomes["cpu_count"] == "not-tested" and outcomes["time"] == "not-tested"


def test_run_variations_never_builds_or_calls_same_what_cannot_be_applied():
    seen: list[BuildSettings] = []

    def build_one(settings: BuildSettings, label: str):
        seen.append(settings)
        return _record(settings, "d" * 64 if settings.umask == 0o002 else CONTROLLED, "/varied.whl"), ""

    compared = []
    controlled = _record(BASE, CONTROLLED, "/controlled.whl")
    outcome = vary.run_variations(controlled, BASE, BARE, build_one,
                                  lambda a, b: compared.append((a, b)) or [Difference("m.py", "content")])

    assert outcome.sensitive_to == ("umask",)
    for name in ("time", "locale", "hostname", "user", "cpu_count", "file_order", "domain"):
        assert outcome.variations[name] == "not-tested"
        assert all(name not in s.variations for s in seen)
    tested = ("build_path", "timezone", "umask", "hash_seed", "home", "kernel", "exec_path", "aslr", "environment")
    assert {n for n, v in outcome.variations.items() if v == "same"} == set(tested) - {"umask"}
    assert "not tested: time (libfaketime" in outcome.message and "cpu_count (" in outcome.message
    assert "file_order (needs the sandbox" in outcome.message
    assert [b.variations for b in outcome.builds][0] == tested
    assert compared == [(Path("/controlled.whl"), Path("/varied.whl"))]
    assert outcome.differences == (Difference("m.py", "content"),)
