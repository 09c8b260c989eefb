"""The strict check: the pure search (build counts), the variations themselves, and real builds."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import os
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.engine import sandbox
from pipeline import vary
from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.build import BuildSettings
from pipeline.records import VARIATIONS, Build, Difference, Result
from tests.sdists import intree_sdist

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


# -- the search, without builds --------------------------------------------------------------------
def test_an_insensitive_package_costs_one_build_and_every_variation_is_same():
    build, calls = model(set())
    search = vary.search_sensitive(VARIATIONS, CONTROLLED, build)

    assert search.builds == len(calls) == 1
    assert calls == [frozenset(VARIATIONS)]
    assert search.sensitive_to == () and set(search.variations.values()) == {"same"}


# position in VARIATIONS -> builds, worked out by hand: halves 5|5, then 3|2, then 2|1, then 1|1
ONE_SENSITIVE = {"build_path": 5, "time": 5, "timezone": 4, "locale": 4, "umask": 4,
                 "hostname": 5, "hash_seed": 5, "home": 4, "user": 4, "cpu_count": 4}


@pytest.mark.parametrize("name", VARIATIONS)
def test_one_sensitive_variation_is_found_within_the_bound(name):
    build, calls = model({name})
    search = vary.search_sensitive(VARIATIONS, CONTROLLED, build)

    assert search.sensitive_to == (name,)
    assert search.variations[name] == "differs"
    assert [n for n, v in search.variations.items() if v == "same"] == [n for n in VARIATIONS if n != name]
    assert search.builds == ONE_SENSITIVE[name] <= BOUND == 5
    assert len(set(calls)) == len(calls), "no set of variations is built twice"


@pytest.mark.parametrize("pair, builds", [
    (("build_path", "cpu_count"), 7),  # one in each half: both halves are searched
    (("time", "timezone"), 5),  # neighbours: the split between them is found on the way down
    (("umask", "hostname"), 7),
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


# -- the variations ---------------------------------------------------------------------------------
FULL = vary.Machine(isolated=True, faketime="/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                    locale={"LC_ALL": "fr_FR.UTF-8", "LANG": "fr_FR.UTF-8", "LOCPATH": "/cache/locales"},
                    locale_dir="/cache/locales", cpus=frozenset({0, 1}), zoneinfo=True)
BARE = vary.Machine(isolated=False, faketime=None, locale=None, cpus=frozenset({0}), zoneinfo=False)
BASE = BuildSettings(build_dir=Path("/tmp/wheelrepro/cp311/pkg-1.0"))


def test_all_variations_change_what_they_name_and_nothing_controlled_else():
    varied = vary.vary(BASE, VARIATIONS, FULL)

    assert varied.variations == VARIATIONS
    assert varied.build_dir == Path("/tmp/wheelrepro-alt/cp311/pkg-1.0")
    assert varied.wrapper[0] == "env" and f"LD_PRELOAD={FULL.faketime}" in varied.wrapper
    assert "FAKETIME=+400d" in varied.wrapper
    assert varied.env_vars["TZ"] == "Pacific/Chatham"
    assert varied.env_vars["LC_ALL"] == varied.env_vars["LANG"] == "fr_FR.UTF-8"
    assert varied.mounts == (sandbox.Mount("/cache/locales"),)
    assert varied.umask == 0o002 and varied.hostname != BASE.hostname
    assert varied.env_vars["PYTHONHASHSEED"] == "12345" and varied.home != BASE.home
    assert (varied.user, varied.uid) == ("varied", BASE.uid + sandbox.UID_POOL)
    assert varied.cpus == frozenset({0})
    assert varied.env_vars["SOURCE_DATE_EPOCH"] == BASE.env_vars["SOURCE_DATE_EPOCH"], "time moves, SDE does not"
    assert BASE.env_vars["TZ"] == "UTC" and BASE.variations == (), "the controlled settings are not touched"


@pytest.mark.parametrize("name", VARIATIONS)
def test_each_variation_alone_changes_the_settings(name):
    varied = vary.vary(BASE, [name], FULL)
    assert varied.variations == (name,)
    assert varied != dataclasses.replace(BASE, variations=(name,))


def test_what_a_bare_machine_cannot_vary_is_not_tested_with_a_reason():
    reasons = vary.unavailable(BASE, BARE)

    assert set(reasons) == {"time", "locale", "hostname", "user", "cpu_count"}
    assert "faketime" in reasons["time"] and "one CPU" in reasons["cpu_count"]
    unsandboxed = dataclasses.replace(FULL, isolated=False)
    assert set(vary.unavailable(BASE, unsandboxed)) == {"hostname", "user", "cpu_count"}
    assert vary.vary(BASE, ["timezone"], BARE).env_vars["TZ"] == vary.TIMEZONE_RULE


def _record(settings: BuildSettings, sha: str | None, path: str | None = None) -> Build:
    return Build(wheel="w.whl" if sha else None, sha256=sha, seconds=0.1, path=path, log="log", returncode=0,
                 build_dir=str(settings.build_dir), variations=settings.variations)


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
    for name in ("time", "locale", "hostname", "user", "cpu_count"):
        assert outcome.variations[name] == "not-tested"
        assert all(name not in s.variations for s in seen)
    assert {n for n, v in outcome.variations.items() if v == "same"} == {"build_path", "timezone", "hash_seed", "home"}
    assert "not tested: time (libfaketime" in outcome.message and "cpu_count (" in outcome.message
    assert [b.variations for b in outcome.builds][0] == ("build_path", "timezone", "umask", "hash_seed", "home")
    assert compared == [(Path("/controlled.whl"), Path("/varied.whl"))]
    assert outcome.differences == (Difference("m.py", "content"),)


def test_variation_differences_survive_json():
    result = Result(name="p", version="1", python="3.11.9", interpreter="cp311", status="reproducible",
                    started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z", reproduce="r",
                    variations={"umask": "differs"},
                    sensitive_to=("umask",), variation_differences=(Difference("p/x.py", "content", "d", "content"),))
    assert Result.from_json(json.loads(json.dumps(result.to_json()))) == result
    assert result.to_json()["variation_differences"] == [{"path": "p/x.py", "kind": "content", "detail": "d",
                                                          "cause": "content"}]


def test_the_report_names_the_variations_and_what_they_changed():
    from pipeline.cli.report import details

    result = Result(name="p", version="1", python="3.11.9", interpreter="cp311", status="reproducible",
                    started="s", finished="f", reproduce="r", sensitive_to=("build_path", "umask"),
                    variation_differences=(Difference("p/_x.so", "content", "ELF: paths only in A", "build_path"),))
    text = "\n".join(details([result]))
    assert "sensitive to: build_path, umask" in text
    assert "differs under variations:" in text and "build_path" in text and "p/_x.so" in text


# -- the machinery inside the sandbox ------------------------------------------------------------
def _in_sandbox(settings: BuildSettings, code: str, tmp_path: Path) -> str:
    if sandbox.sandbox_works() is not None:
        pytest.skip("needs bubblewrap")
    spec = sandbox.Spec(argv=(*settings.wrapper, "/usr/bin/python3", "-c", code), env={"PATH": "/usr/bin:/bin"},
                        cwd="/", uid=settings.uid, cpus=settings.cpus, hostname=settings.hostname)
    log = tmp_path / "log"
    outcome = sandbox.run(sandbox.BACKENDS["bubblewrap"](), spec, sandbox.Limits(timeout=60), log)
    assert outcome.returncode == 0, log.read_text()
    return log.read_text().splitlines()[1]


def test_libfaketime_moves_the_clock_inside_bubblewrap(tmp_path):
    machine = vary.Machine(isolated=True, faketime=vary.faketime_library())
    if machine.faketime is None:
        pytest.skip("faketime is not installed")
    settings = vary.vary(BASE, ["time"], machine)
    shifted = float(_in_sandbox(settings, "import time; print(time.time())", tmp_path))
    assert 399 * 86400 < shifted - time.time() < 401 * 86400


def test_one_cpu_is_what_the_build_sees_inside_bubblewrap(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("this machine has one CPU")
    settings = vary.vary(BASE, ["cpu_count"], vary.Machine(isolated=True, cpus=frozenset(os.sched_getaffinity(0))))
    seen = _in_sandbox(settings, "import os; print(os.cpu_count(), len(os.sched_getaffinity(0)))", tmp_path)
    assert seen == "1 1"


def test_the_locale_chosen_is_usable(tmp_path):
    variables, folder = vary.choose_locale(tmp_path / "locales")
    env = {"PATH": "/usr/bin:/bin", **variables}
    out = subprocess.run(["/usr/bin/python3", "-c", "import locale; print(locale.setlocale(locale.LC_ALL, ''))"],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == variables["LC_ALL"] != "C.UTF-8"


# -- real builds of fixture sdists ------------------------------------------------------------------
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
    assert result.reproduce.endswith("--vary")


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


# -- the real world (nox -s tests_network) -----------------------------------------------------------
@pytest.mark.network
def test_markupsafe_is_reproducible_but_sensitive_to_build_path_and_umask(tmp_path, interpreters, sandboxed):
    """Measured on cp312 (bubblewrap, 2 CPUs, libfaketime, a compiled fr_FR.UTF-8): the all-variations
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
