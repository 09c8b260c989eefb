"""The strict check end to end: fixture sdists sensitive to one thing each, built for real."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from pipeline import vary
from pipeline.engine.build import BuildSettings
from pipeline.engine.check import Checker, CheckOptions
from pipeline.records import VARIATIONS
from tests.sdists import intree_sdist

BOUND = 1 + math.ceil(math.log2(len(VARIATIONS)))  # builds for a package sensitive to one variation


BASE = BuildSettings(build_dir=Path("/tmp/wheelrepro/cp311/pkg-1.0"))


FIXTURES = [  # behaviour, sensitive_to, the cause the explainer gives the differing module
    ("build-path", ("build_path",), "build_path"),
    ("localtime", ("time", "timezone"), "content"),  # "2026-11 +0000": no full date for the timestamp rule
    ("umask", ("umask",), "content"),
    ("hostname", ("hostname",), "content"),
    ("hash-order", ("hash_seed",), "hash_seed_ordering"),
    ("cpu-count", ("cpu_count",), "content"),
    ("user", ("user",), "content"),
    ("home", ("home",), "build_path"),  # an absolute path leaked in, like a build directory
    ("locale", ("locale",), "content"),
    # lists its folder: blamed on the order, not the build path; the explainer sees a permutation, which it
    # cannot tell from a hash-seed effect (causes.md), and sensitive_to settles it
    ("file-order", ("file_order",), "hash_seed_ordering"),
    ("kernel", ("kernel",), "content"),
    ("exec-path", ("exec_path",), "build_path"),  # an absolute path leaked in
    ("domain", ("domain",), "content"),
    ("aslr", ("aslr",), "content"),
    ("environment", ("environment",), "content"),
]


@pytest.fixture(scope="module")
def machine(tmp_path_factory, sandboxed):
    return vary.probe_machine(tmp_path_factory.mktemp("locales"), isolated=sandboxed)


@pytest.mark.slow
@pytest.mark.parametrize("behaviour, expected, cause", FIXTURES, ids=[b for b, _, _ in FIXTURES])
def test_a_fixture_sensitive_to_one_thing_is_found(behaviour, expected, cause, index, make_checker, interpreters,
                                                   machine):
    missing = set(expected) & set(vary.unavailable(BASE, machine))
    if missing:
        pytest.skip(f"this machine cannot vary {', '.join(sorted(missing))}")
    name = "v" + behaviour.replace("-", "")
    index.add(name, f"{name}-1.0.tar.gz", intree_sdist(name, "1.0", behaviour))
    checker = make_checker(index, vary=True)
    result = checker.check(checker.target(name), interpreters["3.11"])

    assert result.status == "reproducible", result.message
    assert result.sensitive_to == expected
    assert {n for n, v in result.variations.items() if v == "differs"} == set(expected)
    assert all(build.variations for build in result.builds[2:]) and not result.builds[0].variations
    assert len(result.builds) - 2 <= (BOUND if len(expected) == 1 else 1 + 2 * (BOUND - 1))
    assert (f"{name}/__init__.py", cause) in [(d.path, d.cause) for d in result.variation_differences]
    assert result.differences == (), "the controlled pair agrees: nothing to report there"
    assert result.reproduce.startswith("wheelrepro check --from-record "), "the controlled wheel is re-derived"


@pytest.mark.slow
def test_a_pure_package_is_the_same_under_every_variation_tested(index, make_checker, interpreters, machine):
    index.add("vpure", "vpure-1.0.tar.gz", intree_sdist("vpure", "1.0"))
    checker = make_checker(index, vary=True)
    result = checker.check(checker.target("vpure"), interpreters["3.11"])

    untested = vary.unavailable(BASE, machine)
    assert result.status == "reproducible" and result.sensitive_to == ()
    assert len(result.builds) == 3, "one build with every variation settles it"
    assert set(result.builds[2].variations) == set(VARIATIONS) - set(untested)
    assert result.variations == {n: "not-tested" if n in untested else "same" for n in VARIATIONS}
    assert result.variation_differences == ()


@pytest.mark.slow
def test_an_unreproducible_package_gets_no_variation_builds(index, make_checker, interpreters):
    index.add("vrand", "vrand-1.0.tar.gz", intree_sdist("vrand", "1.0", "random"))
    checker = make_checker(index, vary=True)
    result = checker.check(checker.target("vrand"), interpreters["3.11"])

    assert result.status == "unreproducible" and len(result.builds) == 2
    assert set(result.variations.values()) == {"not-tested"} and len(result.variations) == len(VARIATIONS)
    assert "variation builds skipped" in result.message and result.sensitive_to == ()


@pytest.mark.network
def test_markupsafe_is_reproducible_but_sensitive_to_build_path_and_umask(tmp_path, interpreters, sandboxed):
    """Measured on cp312 (bubblewrap, 2 CPUs, the clock library, a compiled fr_FR.UTF-8, disorderfs): the all-variations
    build differs in the extension's DWARF (.debug_info/.debug_line carry the build directory) and in
    file modes (setuptools copies the 0o664 the umask left); every other variation leaves it alone."""
    if "3.12" not in interpreters:
        pytest.skip("measured with Python 3.12")
    checker = Checker(CheckOptions(out=tmp_path / "out", unsandboxed=not sandboxed, vary=True))
    result = checker.check(checker.target("markupsafe==3.0.2"), interpreters["3.12"])

    assert result.status == "reproducible", result.message
    assert result.sensitive_to == ("build_path", "umask")
    assert len(result.builds) - 2 <= 1 + 2 * (BOUND - 1)
    causes = {d.cause for d in result.variation_differences}
    assert {"build_path", "file_mode"} <= causes
    extension = next(d for d in result.variation_differences if d.path.endswith(".so"))
    assert extension.cause == "build_path" and ".debug_info" in extension.detail
