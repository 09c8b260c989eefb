"""Where the cutoff comes from; and end to end, a wheel made by an older backend, published on a local
PEP 691 index: inferred, rebuilt, reproduced offline.

The "maintainer" builds the fixture sdist with flit_core 3.11.0 and SOURCE_DATE_EPOCH set; the
index lists flit_core 3.11.0 and 3.12.0 (both in the offline wheelhouse) with upload times on
either side of the wheel's.  The controlled check resolves today's flit_core (3.12.0), so its
wheel differs from the published one in WHEEL's Generator; the matching rebuild must pin 3.11.0,
take SOURCE_DATE_EPOCH off the published zip, and come out byte-identical.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline.cli import main
from pipeline.cli.upstream import main_upstream
from pipeline.engine import sandbox
from pipeline.engine.check import Checker, CheckOptions, Locks
from pipeline.engine.net import Response
from pipeline.errors import NotInferred
from pipeline.records import Artifact, Release, Result, Upstream
from pipeline.upstream.matching import (
    json_api_url,
    match_toolchain,
    pure_artifact,
    upload_cutoff,
)
from tests.sdists import _tar, switch_sdist
from tests.upstream.test_toolchain import NEW, OLD, UPLOADED, flit_core, sha256

MAINTAINER_SDE = "1740787200"  # 2025-03-01T00:00:00Z
SDIST_UPLOADED = "2025-03-02T10:00:00.000000Z"
WHEEL_UPLOADED = "2025-03-02T10:00:05.000000Z"


def flit_sdist(name: str, version: str) -> bytes:
    top = f"{name}-{version}"
    pyproject = (f'[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n\n'
                 f'[project]\nname = "{name}"\nversion = "{version}"\ndescription = "A fixture that flit builds"\n')
    return _tar({f"{top}/pyproject.toml": pyproject.encode(),
                 f"{top}/{name}/__init__.py": b'"""A fixture."""\nVALUE = 1\n',
                 f"{top}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()})


def publish(index, checker: Checker, interpreter, name: str) -> Path:
    """The sdist and the wheel a maintainer made from it with flit_core 3.11.0, on the index."""
    index.add(name, f"{name}-1.0.tar.gz", flit_sdist(name, "1.0"), SDIST_UPLOADED)
    old = flit_core(checker_wheelhouse(checker), OLD)
    target = checker.target(f"{name}==1.0")
    with sandbox.lease_uid() as uid, \
            checker.prepare(target, interpreter, uid, Locks(build=(f"flit-core=={OLD} --hash=sha256:{sha256(old)}",))) \
            as prepared:
        settings = prepared.controlled()
        settings = dataclasses.replace(settings, env_vars={**settings.env_vars, "SOURCE_DATE_EPOCH": MAINTAINER_SDE})
        build, reason = checker.rebuild(prepared, "maintainer", settings)
    assert not reason, reason
    # a copy of the wheel as published: a check empties the kept folders it builds in
    wheel = Path(checker.options.out) / "published" / Path(build.path).name
    wheel.parent.mkdir(parents=True, exist_ok=True)
    wheel.write_bytes(Path(build.path).read_bytes())
    index.add(name, wheel.name, wheel.read_bytes(), WHEEL_UPLOADED)
    return wheel


def checker_wheelhouse(checker: Checker) -> Path:
    return Path(checker.options.find_links[0])


@pytest.fixture
def flit_index(json_index, wheelhouse):
    for version, when in UPLOADED.items():
        json_index.add_file("flit-core", flit_core(wheelhouse, version), when)
    return json_index


@pytest.fixture
def checker(flit_index, wheelhouse, shared_out, sandboxed):
    return Checker(CheckOptions(out=shared_out, index_url=flit_index.url, find_links=(str(wheelhouse),),
                                timeout=120.0, unsandboxed=not sandboxed))


@pytest.mark.slow
def test_a_wheel_made_by_an_older_backend_is_inferred_and_reproduced(flit_index, checker, interpreters):
    interpreter = interpreters["3.11"]
    published = publish(flit_index, checker, interpreter, "flitpkg")
    result = checker.check(checker.target("flitpkg"), interpreter)

    assert result.status == "reproducible", result.message
    assert any(line.startswith(f"flit-core=={NEW} ") for line in result.environment.requirements), \
        "the controlled check builds with today's flit_core"
    up, chain = result.upstream, result.upstream.toolchain
    assert (up.status, chain.status, chain.today) == ("identical", "matched", "different"), up.note
    assert up.sha256 == hashlib.sha256(published.read_bytes()).hexdigest() == chain.build.sha256
    assert result.builds[0].sha256 != up.sha256, "the controlled verdict is about its own builds, untouched"
    assert (chain.generator, chain.backend, chain.version) == (f"flit {OLD}", "flit-core", OLD)
    assert chain.requirements == ("flit_core >=3.2,<4", f"flit-core=={OLD}")
    assert [line.split()[0] for line in chain.lock] == [f"flit-core=={OLD}"]
    assert (chain.cutoff, chain.source_date_epoch) == (WHEEL_UPLOADED, MAINTAINER_SDE)
    assert "PEP 700" in chain.cutoff_source and chain.resolver.startswith("uv ")
    assert chain.fingerprint != result.environment.fingerprint
    assert Result.from_json(json.loads(json.dumps(result.to_json()))).upstream == up


@pytest.mark.slow
def test_a_backend_version_gone_from_the_index_is_not_inferred_and_today_stands(flit_index, checker, interpreters):
    interpreter = interpreters["3.11"]
    publish(flit_index, checker, interpreter, "flitgone")
    flit_index.remove("flit-core", f"flit_core-{OLD}-py3-none-any.whl")
    result = checker.check(checker.target("flitgone"), interpreter)

    up, chain = result.upstream, result.upstream.toolchain
    assert result.status == "reproducible"
    assert (up.status, chain.status) == ("different", "not-inferred"), chain.reason
    assert f"flit-core=={OLD}" in chain.reason and chain.backend == "flit-core" and chain.build is None
    assert f"made by flit {NEW} here, flit {OLD} for the index" in up.note
    argv = ["check", "flitgone", "--python", "3.11", "--index-url", checker.options.index_url, "--find-links",
            checker.options.find_links[0], "--out", str(checker.options.out)] + \
        (["--unsandboxed"] if checker.options.unsandboxed else [])
    assert main(argv) == 0, "reproducible from its sdist"
    assert main(argv + ["--require-upstream"]) == 1, "but the index's wheel is not what it builds to"


@pytest.mark.slow
def test_the_upstream_command_takes_names_and_local_sdists(flit_index, checker, interpreters, wheelhouse, shared_out,
                                                          sandboxed, tmp_path, capsys):
    publish(flit_index, checker, interpreters["3.11"], "flitcli")
    local = tmp_path / "dist" / "flitcli-1.0.tar.gz"
    local.parent.mkdir()
    local.write_bytes(flit_sdist("flitcli", "1.0"))
    argv = ["flitcli==1.0", str(local), "--python", "3.11", "--index-url", flit_index.url, "--find-links",
            str(wheelhouse), "--out", str(shared_out), "--json", str(tmp_path / "up.json")]
    code = main_upstream(argv + ([] if sandboxed else ["--unsandboxed"]))
    out = capsys.readouterr().out

    assert code == 0, out
    records = json.loads((tmp_path / "up.json").read_text())
    assert [(r["name"], r["upstream"]["status"], r["upstream"]["toolchain"]["status"]) for r in records] == \
        [("flitcli", "identical", "matched")] * 2
    assert f"toolchain: matched: flit-core=={OLD} (from 'flit {OLD}' in its WHEEL)" in out
    assert f"SOURCE_DATE_EPOCH={MAINTAINER_SDE}" in out
    table = out.strip().splitlines()[-3:]
    assert table[0].split() == ["package", "version", "python", "pypi", "toolchain"]
    assert [row.split()[3:] for row in table[1:]] == [["identical", "matched"]] * 2


def setuptools_sdist(name: str, version: str) -> bytes:
    top = f"{name}-{version}"
    pyproject = (f'[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
                 f'[project]\nname = "{name}"\nversion = "{version}"\n')
    return _tar({f"{top}/pyproject.toml": pyproject.encode(), f"{top}/{name}.py": b"VALUE = 1\n",
                 f"{top}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()})


@pytest.mark.slow
def test_a_python_tag_the_maintainer_asked_for_is_asked_again(json_index, wheelhouse, shared_out, sandboxed,
                                                              interpreters):
    """setuptools' default tag is py3; the maintainer asked bdist_wheel for py2.py3, which the wheel's
    name shows: the matching rebuild passes the same option and comes out the same."""
    setuptools = next(wheelhouse.glob("setuptools-80.9.0-*.whl"), None) or pytest.fail("no setuptools 80.9.0 in "
                                                                                        "the offline wheelhouse")
    json_index.add_file("setuptools", setuptools, "2025-05-27T00:56:49.664463Z")
    json_index.add("tagpkg", "tagpkg-1.0.tar.gz", setuptools_sdist("tagpkg", "1.0"), SDIST_UPLOADED)
    checker = Checker(CheckOptions(out=shared_out, index_url=json_index.url, find_links=(str(wheelhouse),),
                                   timeout=120.0, unsandboxed=not sandboxed))
    interpreter = interpreters["3.11"]
    target = checker.target("tagpkg==1.0")
    with sandbox.lease_uid() as uid, checker.prepare(target, interpreter, uid) as prepared:
        settings = dataclasses.replace(prepared.controlled(), config_settings=("--build-option=--python-tag=py2.py3",),
                                       env_vars={**prepared.controlled().env_vars, "SOURCE_DATE_EPOCH": MAINTAINER_SDE})
        build, reason = checker.rebuild(prepared, "maintainer", settings)
    assert not reason and build.wheel == "tagpkg-1.0-py2.py3-none-any.whl", reason
    json_index.add("tagpkg", build.wheel, Path(build.path).read_bytes(), "2025-06-01T00:00:00Z")

    result = checker.check(checker.target("tagpkg"), interpreter)
    up, chain = result.upstream, result.upstream.toolchain
    assert result.builds[0].wheel == "tagpkg-1.0-py3-none-any.whl"
    assert (up.status, chain.status, chain.today) == ("identical", "matched", "different"), up.note
    assert chain.config_settings == ("--build-option=--python-tag=py2.py3",)
    assert chain.build.wheel == "tagpkg-1.0-py2.py3-none-any.whl"


# -- a pure wheel published beside compiled ones, built with the sdist's own switch ----------------

SETUPTOOLS_UPLOADED = "2025-05-27T00:56:49.664463Z"
PURE_UPLOADED = "2025-06-01T00:00:00.000000Z"


def publish_switch(json_index, wheelhouse, shared_out, sandboxed, interpreter, name: str, switch: str,
                   pure: dict | None) -> tuple[Checker, str]:
    """The sdist, its compiled wheel as a manylinux one, and the pure wheel the maintainer made with
    ``pure`` ({"env": {...}} or {"config": (...)}: the switch), on a PEP 691 index; the pure wheel's name.
    Without ``pure`` the maintainer made it some other way: the compiled wheel's bytes stand in for it
    (a check that works never fetches it, or finds no pure rebuild to compare it with)."""
    setuptools = next(wheelhouse.glob("setuptools-80.9.0-*.whl"), None) or pytest.fail("no setuptools 80.9.0 in "
                                                                                        "the offline wheelhouse")
    json_index.add_file("setuptools", setuptools, SETUPTOOLS_UPLOADED)
    json_index.add(name, f"{name}-1.0.tar.gz", switch_sdist(name, "1.0", switch), SDIST_UPLOADED)
    checker = Checker(CheckOptions(out=shared_out, index_url=json_index.url, find_links=(str(wheelhouse),),
                                   timeout=180.0, unsandboxed=not sandboxed))
    made = {}
    with sandbox.lease_uid() as uid, checker.prepare(checker.target(f"{name}==1.0"), interpreter, uid) as prepared:
        controlled = prepared.controlled()
        for label, asked in (("compiled", {}), ("pure", pure or {})):
            settings = dataclasses.replace(controlled, config_settings=tuple(asked.get("config", ())), env_vars={
                **controlled.env_vars, "SOURCE_DATE_EPOCH": MAINTAINER_SDE, **asked.get("env", {})})
            build, reason = checker.rebuild(prepared, f"maintainer-{label}", settings)
            assert not reason, reason
            made[label] = (build.wheel, Path(build.path).read_bytes())
    compiled, data = made["compiled"]
    assert "-linux_" in compiled, compiled
    json_index.add(name, compiled.replace("-linux_", "-manylinux_2_17_"), data, PURE_UPLOADED)
    wheel, data = made["pure"] if pure else (f"{name}-1.0-py3-none-any.whl", made["compiled"][1])
    assert wheel == f"{name}-1.0-py3-none-any.whl", "the maintainer's switch makes the pure wheel"
    json_index.add(name, wheel, data, PURE_UPLOADED)
    return checker, wheel


@pytest.mark.slow
@pytest.mark.parametrize("switch, pure, env_vars, config_settings, read_at", [
    ("env", {"env": {"FIXTURE_NO_EXTENSIONS": "1"}}, ("FIXTURE_NO_EXTENSIONS=1",), (), "setup.py line 4"),
    ("config", {"config": ("pure-python=true",)}, (), ("pure-python=true",), "_build/backend.py line 6"),
])
def test_the_pure_wheel_is_rebuilt_with_the_switch_the_sdist_reads(switch, pure, env_vars, config_settings, read_at,
                                                                   json_index, wheelhouse, shared_out, sandboxed,
                                                                   interpreters):
    """The sdist builds a C extension unless its own switch says not to; the index has a manylinux
    wheel and a pure one made with that switch: the switch is read off the sdist, the pure wheel matched."""
    name = f"cswitch{switch}"
    checker, pure_wheel = publish_switch(json_index, wheelhouse, shared_out, sandboxed, interpreters["3.11"], name,
                                         switch, pure)
    result = checker.check(checker.target(name), interpreters["3.11"])

    up, chain = result.upstream, result.upstream.toolchain
    assert "-linux_" in result.builds[0].wheel, "the controlled builds are compiled"
    assert (up.status, up.wheel, chain.status, chain.today) == ("identical", pure_wheel, "matched", "not-comparable"), \
        (up.note, chain.reason)
    assert (chain.env_vars, chain.config_settings) == (env_vars, config_settings)
    assert chain.build.wheel == pure_wheel and chain.build.sha256 == up.sha256
    assert any("own switch" in note and read_at in note for note in chain.notes), chain.notes
    assert f"without extensions ({(env_vars + tuple('-C' + c for c in config_settings))[0]} read in {read_at})" \
        in up.note
    assert (chain.backend, chain.version, chain.cutoff) == ("setuptools", "80.9.0", PURE_UPLOADED)
    assert Result.from_json(json.loads(json.dumps(result.to_json()))).upstream == up


@pytest.mark.slow
@pytest.mark.parametrize("switch, status, says", [
    ("none", "not-inferred", "read no switch that leaves its extensions out"),
    ("ignored", "failed", "the switch did not work"),
])
def test_without_a_switch_that_works_the_manylinux_comparison_stands(switch, status, says, json_index, wheelhouse,
                                                                     shared_out, sandboxed, interpreters):
    """No switch in the build files, or one that is read and then not obeyed: the index's pure wheel is
    not compared, the compiled rebuild against the manylinux wheel stays not-comparable, with the reason."""
    name = f"cswitch{switch}"
    checker, pure_wheel = publish_switch(json_index, wheelhouse, shared_out, sandboxed, interpreters["3.11"], name,
                                         switch, None)
    result = checker.check(checker.target(name), interpreters["3.11"])

    up, chain = result.upstream, result.upstream.toolchain
    assert (up.status, chain.status, chain.today) == ("not-comparable", status, "not-comparable"), chain.reason
    assert "-manylinux_2_17_" in up.wheel and says in chain.reason
    assert f"the index also publishes a pure wheel, {pure_wheel}" in up.note
    if switch == "none":
        assert "(pyproject.toml, setup.py)" in chain.reason and chain.build is None
    else:
        assert chain.env_vars == ("FIXTURE_NO_EXTENSIONS=1",) and "-linux_" in chain.build.wheel


# -- the cutoff and what is never matched (no build) ------------------------------------------------

WHEEL = "pkg-1.0-py3-none-any.whl"


class FakeClient:
    """Answers every GET with one canned response and remembers what was asked."""

    def __init__(self, status: int, payload: object) -> None:
        self.status, self.body, self.asked = status, json.dumps(payload).encode(), []

    def get(self, url: str, accept: str = "*/*") -> Response:
        self.asked.append((url, accept))
        return Response(url, self.status, "application/json", self.body)


def _release(index_url: str) -> Release:
    return Release("pkg", "1.0", None, (), index_url)


def test_the_index_upload_time_comes_first_and_nothing_is_fetched():
    client = FakeClient(500, {})
    artifact = Artifact(WHEEL, "https://x/" + WHEEL, "a" * 64, upload_time="2025-03-05T20:05:00.369721Z")
    assert upload_cutoff(client, _release("https://pypi.org/simple/"), artifact) == (
        "2025-03-05T20:05:00.369721Z", "the index's upload-time for the wheel (PEP 700)")
    assert client.asked == []


def test_without_it_pypis_json_api_gives_the_wheels_own_upload_time():
    client = FakeClient(200, {"urls": [{"filename": "pkg-1.0.tar.gz", "upload_time_iso_8601": "2025-01-01T00:00:00Z"},
                                       {"filename": WHEEL, "upload_time_iso_8601": "2025-03-05T20:05:00.369721Z"}]})
    cutoff = upload_cutoff(client, _release("https://pypi.org/simple/"), Artifact(WHEEL, "https://x/" + WHEEL, "a" * 64))
    assert cutoff == ("2025-03-05T20:05:00.369721Z", "PyPI's JSON API (upload_time_iso_8601)")
    assert client.asked == [("https://pypi.org/pypi/pkg/1.0/json", "application/json")]


@pytest.mark.parametrize("index_url, status, payload, says", [
    ("https://mirror.example/simple/", 200, {}, "no PEP 700 upload-time"),
    ("https://pypi.org/simple/", 404, {}, "neither the index nor PyPI's JSON API"),
    ("https://pypi.org/simple/", 200, {"urls": [{"filename": "other.whl", "upload_time_iso_8601": "x"}]}, "neither"),
    ("https://pypi.org/simple/", 200, ["not", "an", "object"], "neither"),
])
def test_no_upload_time_anywhere_is_not_inferred(index_url, status, payload, says):
    with pytest.raises(NotInferred, match=says):
        upload_cutoff(FakeClient(status, payload), _release(index_url), Artifact(WHEEL, "https://x/" + WHEEL, "a" * 64))


@pytest.mark.parametrize("index_url, expected", [
    ("https://pypi.org/simple/", "https://pypi.org/pypi/pkg/1.0/json"),
    ("https://test.pypi.org/simple/", "https://test.pypi.org/pypi/pkg/1.0/json"),
    ("http://pypi.org/simple/", None), ("https://pypi.org.evil.example/simple/", None), ("file:///srv/simple/", None),
])
def test_the_json_api_is_asked_only_of_pypi_itself(index_url, expected):
    assert json_api_url(index_url, "pkg", "1.0") == expected


@pytest.mark.parametrize("rebuilt, wheels, chosen", [
    ("pkg-1.0-cp311-cp311-linux_x86_64.whl", ["pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "pkg-1.0-py2-none-any.whl",
                                              WHEEL, "pkg-1.0-py2.py3-none-any.whl"], WHEEL),
    ("pkg-1.0-cp311-cp311-linux_x86_64.whl", ["pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"], None),
    ("pkg-1.0-py3-none-any.whl", ["pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", WHEEL], None),  # already pure
])
def test_the_pure_wheel_to_match_a_compiled_rebuild_with(rebuilt, wheels, chosen):
    release = Release("pkg", "1.0", None, tuple(Artifact(w, "https://x/" + w, "a" * 64) for w in wheels))
    found = pure_artifact(release, rebuilt)
    assert (found.filename if found else None) == chosen


@pytest.mark.parametrize("upstream", [Upstream("no-wheel"), Upstream("not-checked", wheel=WHEEL),
                                      Upstream("not-comparable", wheel="pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
                                      Upstream("different", wheel="gone-1.0-py3-none-any.whl")])
def test_nothing_is_matched_without_a_published_wheel_to_match(upstream):
    release = Release("pkg", "1.0", None, (Artifact(WHEEL, "https://x/" + WHEEL, "a" * 64),))
    prepared = SimpleNamespace(target=SimpleNamespace(release=release, sdist_path="/nowhere.tar.gz"))
    assert match_toolchain(None, prepared, None, upstream) is upstream
