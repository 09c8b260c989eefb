"""End to end: tiny sdists on a local index, built twice for real, each status asserted."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from pipeline.engine import environments, sandbox
from pipeline.engine.prepare import Locks, Prepared
from pipeline.engine.provision import CARGO_HOME
from pipeline.engine.target import Target
from pipeline.engine.workspace import BUILD_ROOT
from pipeline.records import Build, Environment, Result
from tests.sdists import cext_sdist, hostile_sdist, intree_sdist, rust_sdist

pytestmark = pytest.mark.slow


def _check(checker, interpreter, argument: str) -> Result:
    return checker.check(checker.target(argument), interpreter)


def test_pure_package_is_reproducible_with_every_field_recorded(index, make_checker, interpreters):
    index.add("purepkg", "purepkg-1.0.tar.gz", intree_sdist("purepkg", "1.0"))
    checker = make_checker(index)
    result = _check(checker, interpreters["3.11"], "purepkg")

    assert result.status == "reproducible", result.message
    assert (result.name, result.version, result.interpreter) == ("purepkg", "1.0", "cp311")
    assert result.python.startswith("3.11.")
    first, second = result.builds
    assert first.sha256 == second.sha256 and len(first.sha256) == 64
    assert Path(first.path).is_file() and Path(second.path).is_file() and first.path != second.path
    assert first.wheel == "purepkg-1.0-py3-none-any.whl"
    assert "exit 0" in Path(first.log).read_text()
    assert first.build_dir == second.build_dir == str(BUILD_ROOT / "cp311" / "purepkg-1.0")
    assert result.sdist.filename == "purepkg-1.0.tar.gz" and len(result.sdist.sha256) == 64
    assert len(result.environment.fingerprint) == 64 and result.environment.requirements == ()
    assert any(line.startswith("build==") for line in result.environment.toolchain)
    assert result.controls["SOURCE_DATE_EPOCH"] == "315532800" and result.controls["PYTHONHASHSEED"] == "0"
    assert result.isolation.offline
    assert result.reproduce.startswith(f"wheelrepro check --from-record {checker.workspace.out} purepkg==1.0 "
                                       f"--python {interpreters['3.11'].version} --find-links ")
    assert result.started <= result.finished
    assert Result.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_random_bytes_make_it_unreproducible_and_name_the_member(index, make_checker, interpreters):
    index.add("randpkg", "randpkg-1.0.tar.gz", intree_sdist("randpkg", "1.0", "random"))
    result = _check(make_checker(index), interpreters["3.11"], "randpkg")

    assert result.status == "unreproducible"
    assert result.builds[0].sha256 != result.builds[1].sha256
    assert ("randpkg/__init__.py", "random_content") in [(d.path, d.cause) for d in result.differences]
    assert ("randpkg-1.0.dist-info/RECORD", "derived") in [(d.path, d.cause) for d in result.differences]


def test_a_failing_build_is_build_failed_with_its_log(index, make_checker, interpreters):
    index.add("failpkg", "failpkg-1.0.tar.gz", intree_sdist("failpkg", "1.0", "fail"))
    result = _check(make_checker(index), interpreters["3.11"], "failpkg")

    assert result.status == "build-failed"
    assert "build 1" in result.message
    assert len(result.builds) == 1, "a build that failed once is not tried again"
    assert "this package does not build" in Path(result.builds[0].log).read_text()


def test_a_build_past_the_timeout_is_timeout(index, make_checker, interpreters):
    index.add("slowpkg", "slowpkg-1.0.tar.gz", intree_sdist("slowpkg", "1.0", "sleep"))
    result = _check(make_checker(index, timeout=4.0), interpreters["3.11"], "slowpkg")

    assert result.status == "timeout"
    assert result.builds[0].timed_out and result.builds[0].returncode is None
    assert result.builds[0].seconds < 60


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "linkout"])
def test_a_hostile_tarball_is_refused_and_writes_nothing_outside(kind, index, make_checker, interpreters):
    index.add("evilpkg", "evilpkg-1.0.tar.gz", hostile_sdist("evilpkg", "1.0", kind))
    result = _check(make_checker(index), interpreters["3.11"], "evilpkg")

    assert result.status == "error"
    assert "refused evilpkg-1.0.tar.gz" in result.message
    assert not Path("/tmp/wheelrepro-escaped.txt").exists()
    assert not (BUILD_ROOT / "escaped.txt").exists() and not (BUILD_ROOT / "cp311" / "escaped.txt").exists()


def test_a_digest_mismatch_is_an_error_and_the_file_is_not_kept(index, make_checker, interpreters, shared_out):
    index.add("badhash", "badhash-1.0.tar.gz", intree_sdist("badhash", "1.0"), published_sha256="0" * 64)
    checker = make_checker(index)
    target = checker.target("badhash")
    result = checker.check(target, interpreters["3.11"])

    assert target.sdist_path is None
    assert result.status == "error" and "does not match" in result.message and result.builds == ()
    assert not list((shared_out / "cache" / "sdists").rglob("badhash-1.0.tar.gz"))


def test_a_c_extension_is_reproducible_on_two_interpreters(index, make_checker, interpreters):
    index.add("cextpkg", "cextpkg-1.0.tar.gz", cext_sdist("cextpkg", "1.0"))
    checker = make_checker(index)
    target = checker.target("cextpkg")
    chosen = [interpreters[m] for m in ("3.11", "3.12", "3.9", "3.13") if m in interpreters][:2]
    assert len(chosen) == 2, "this test needs two interpreters"
    for interpreter in chosen:
        result = checker.check(target, interpreter)
        assert result.status == "reproducible", (interpreter.tag, result.message)
        assert any(line.startswith("setuptools==") for line in result.environment.requirements)
        names = zipfile.ZipFile(result.builds[0].path).namelist()
        assert any(n.startswith("cextpkg/_speedups.") and n.endswith(".so") and f"cpython-{interpreter.tag[2:]}" in n for n in names)


def test_the_build_lock_is_resolved_once_and_reused(index, make_checker, interpreters, shared_out):
    index.add("cextpkg", "cextpkg-1.0.tar.gz", cext_sdist("cextpkg", "1.0"))
    checker = make_checker(index)
    target = checker.target("cextpkg")
    with sandbox.lease_uid() as uid:
        with checker.prepare(target, interpreters["3.11"], uid) as prepared:
            first = prepared.environment
        with checker.prepare(target, interpreters["3.11"], uid) as prepared:
            second = prepared.environment
    log = prepared.keep_dir / "environment.log"

    assert first == second and first.requirements
    assert not log.exists() or "pip compile" not in log.read_text(), "the cached lock is used, nothing is resolved again"


def test_a_check_over_an_http_index(http_index, make_checker, interpreters):
    index, url = http_index
    index.add("httppkg", "httppkg-1.0.tar.gz", intree_sdist("httppkg", "1.0"))
    checker = make_checker(index, index_url=url)
    result = _check(checker, interpreters["3.11"], "httppkg==1.0")

    assert result.status == "reproducible", result.message
    assert result.sdist.url.startswith("http://127.0.0.1:") and result.index_url == url
    assert "--index-url" not in result.reproduce, "rebuilding from the record takes its index from the record"


def test_a_release_without_sdist_is_no_sdist(index, make_checker, interpreters):
    index.add("wheelonly", "wheelonly-1.0-py3-none-any.whl", b"not built here")
    result = _check(make_checker(index), interpreters["3.11"], "wheelonly")

    assert (result.status, result.version, result.builds) == ("no-sdist", "1.0", ())
    assert result.is_verdict, "no sdist is a fact about the release, not a tracker failure"


@pytest.mark.skipif(shutil.which("cargo") is None, reason="no Rust toolchain on this machine")
def test_rust_crates_are_prefetched_and_the_build_stays_offline(index, make_checker, interpreters):
    index.add("rustpkg", "rustpkg-1.0.tar.gz", rust_sdist("rustpkg", "1.0"))
    checker = make_checker(index)
    result = _check(checker, interpreters["3.11"], "rustpkg")

    assert result.status == "reproducible", result.message
    assert result.isolation.offline
    text = zipfile.ZipFile(result.builds[0].path).read("rustpkg/__init__.py").decode()
    assert f"CARGO_HOME = {CARGO_HOME!r}" in text, "crates sit at the same fixed path in every build"
    log = (Path(result.builds[0].log).parent.parent / "environment.log").read_text()
    assert "cargo fetch --locked" in log


def test_an_unreachable_index_during_resolution_is_an_error_never_build_failed(index, make_checker, interpreters,
                                                                               tmp_path):
    """pip ends a failed download with "No matching distribution found": that is not the package's fault."""
    index.add("netpkg", "netpkg-1.0.tar.gz", cext_sdist("netpkg", "1.0"))
    checker = make_checker(index)
    target = checker.target("netpkg")
    interpreter = interpreters["3.11"]
    toolchain = environments.read_lock(environments.toolchain_lock_path(interpreter))
    checker.provisioner.ensure(interpreter, toolchain, (), tmp_path / "base.log")
    offline = make_checker(index, index_url="http://127.0.0.1:9/simple/", find_links=())
    result = offline.check(target, interpreter)

    assert result.status == "error", result.message
    assert "could not be reached" in result.message


def test_given_locks_are_built_with_and_nothing_is_resolved(index, make_checker, interpreters, wheelhouse, tmp_path):
    index.add("lockedpkg", "lockedpkg-1.0.tar.gz", cext_sdist("lockedpkg", "1.0"))
    checker = make_checker(index, out=tmp_path / "out")  # its own out/: the environment is made here, and logged
    target = checker.target("lockedpkg")
    # setuptools alone is the lock the C-extension test above resolves: its environment would already
    # exist (and write no log); zipp, needed by nothing, makes this lock's environment new
    lock = tuple(f"{wheel.name.split('-')[0]}=={wheel.name.split('-')[1]} "
                 f"--hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}"
                 for wheel in (next(wheelhouse.glob("setuptools-*.whl")), next(wheelhouse.glob("zipp-*.whl"))))
    with sandbox.lease_uid() as uid:
        with checker.prepare(target, interpreters["3.11"], uid, Locks(build=lock)) as prepared:
            build, reason = checker.rebuild(prepared, "pinned")
    assert prepared.environment.requirements == lock
    log = (prepared.keep_dir / "environment.log").read_text()  # the test's own out/: the environment was made
    assert "install" in log and "pip compile" not in log, "a given lock is installed, not re-resolved"
    assert reason == "" and build.sha256


def test_two_wheels_the_comparison_cannot_read_are_still_unreproducible(index, make_checker, interpreters, tmp_path):
    # a build's wheel is hostile output: a member whose CRC lies cannot be explained, but the hashes differ
    wheels = []
    for label in ("a", "b"):
        path = tmp_path / label / "demo-1.0-py3-none-any.whl"
        path.parent.mkdir()
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("demo/__init__.py", f"WHO = {label!r}\n")
        wheels.append(path)
    data = bytearray(wheels[1].read_bytes())
    data[data.index(b"WHO")] = ord("X")  # same size, CRC no longer matches
    wheels[1].write_bytes(bytes(data))
    builds = [Build(p.name, hashlib.sha256(p.read_bytes()).hexdigest(), 1.0, str(p), None, 0, "/b") for p in wheels]
    checker = make_checker(index)
    interpreter = interpreters["3.11"]
    target = Target("demo", "1.0", None, None, "demo==1.0")
    environment = Environment("f" * 64, "b" * 64, interpreter.version, interpreter.tag, (), (), "/env")
    prepared = Prepared(target, interpreter, sandbox.UID_BASE, environment, tmp_path / "build", tmp_path / "keep")

    result = checker.compared(prepared, checker.draft(target, interpreter), *builds)
    assert result.status == "unreproducible"
    (difference,) = result.differences
    assert difference.detail.startswith("not compared: cannot read wheel ") and "corrupt member" in difference.detail
def test_each_interpreter_checks_the_release_it_admits_and_pure_wheels_agree_or_say_why(index, make_checker,
                                                                                      interpreters):
    chosen = [interpreters[m] for m in ("3.11", "3.12", "3.13") if m in interpreters][:2]
    if len(chosen) < 2:
        pytest.skip("needs two of Python 3.11, 3.12, 3.13")
    older, newer = chosen
    index.add("steppkg", "steppkg-1.0.tar.gz", intree_sdist("steppkg", "1.0"), requires_python=">=3.8")
    index.add("steppkg", "steppkg-2.0.tar.gz", intree_sdist("steppkg", "2.0"), requires_python=f">={newer.minor}")
    checker = make_checker(index)
    jobs = checker.targets("steppkg", chosen)
    assert [(t.version, i.tag) for t, i in jobs] == [("1.0", older.tag), ("2.0", newer.tag)]
    pinned = checker.targets("steppkg==2.0", chosen)
    na = checker.check(*pinned[0])
    assert na.status == "not-applicable" and na.builds == () and na.environment is None
    assert na.message == f"requires Python >={newer.minor} (this interpreter is {older.version})"

    index.add("samepkg", "samepkg-1.0.tar.gz", intree_sdist("samepkg", "1.0"))
    index.add("pyverpkg", "pyverpkg-1.0.tar.gz", intree_sdist("pyverpkg", "1.0", "python-version"))
    results = checker.agree([checker.check(t, i) for name in ("samepkg", "pyverpkg")
                             for t, i in checker.targets(name, chosen)])
    same, _, differs, _ = results
    assert same.agreement.status == "same" and set(same.agreement.wheels) == {older.tag, newer.tag}
    assert differs.agreement.status == "differs" and differs.agreement.reasons
    members = {d.path for d in differs.agreement.differences}
    assert "pyverpkg/__init__.py" in members, "the kept wheels were compared member by member"
    assert all(d.detail.startswith(f"{older.tag} vs {newer.tag}") for d in differs.agreement.differences)
