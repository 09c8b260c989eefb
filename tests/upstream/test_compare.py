"""The index's own wheel against the rebuild: choosing it, each classification, the wiring into check."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from pipeline.cli.report import details
from pipeline.cli.upstream import main_upstream
from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.net import Client, Retry
from pipeline.records import Artifact, Release, Result, Upstream
from pipeline.upstream.compare import Match, check_upstream, classify, pick_wheel
from pipeline.upstream.verify import latest_kept_wheel
from tests.sdists import LocalIndex, cext_sdist, intree_sdist


def _artifact(filename: str, yanked: bool = False) -> Artifact:
    return Artifact(filename=filename, url=f"https://files.example/{filename}", sha256="0" * 64, yanked=yanked)


@pytest.mark.parametrize("rebuilt, published, chosen, kind", [
    ("six-1.17.0-py2.py3-none-any.whl",
     ["six-1.17.0-py3-none-any.whl", "six-1.17.0-py2.py3-none-any.whl"], "six-1.17.0-py2.py3-none-any.whl", "exact"),
    ("idna-3.10-py3-none-any.whl", ["idna-3.10-py2.py3-none-any.whl"], "idna-3.10-py2.py3-none-any.whl", "tags"),
    ("a-1.0-py3-none-any.whl", ["a-1.0-py312-none-any.whl"], "a-1.0-py312-none-any.whl", "pure"),
    ("a-1.0-py3-none-any.whl", ["a-1.0-py2-none-any.whl"], None, None),
    ("a-1.0-py3-none-any.whl", ["a-1.0-cp311-cp311-linux_x86_64.whl"], None, None),
    ("a-1.0-py3-none-any.whl", ["b-1.0-py3-none-any.whl"], None, None),
    ("a-1.0-cp311-cp311-linux_x86_64.whl",
     ["a-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", "a-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
      "a-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "a-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"],
     "a-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "repaired"),
    ("a-1.0-cp311-cp311-linux_x86_64.whl", ["a-1.0-cp311-cp311-linux_x86_64.whl"],
     "a-1.0-cp311-cp311-linux_x86_64.whl", "exact"),
    ("a-1.0-cp311-cp311-linux_x86_64.whl", ["a-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "a-1.0-py3-none-any.whl"],
     None, None),
    # a rebuild made without its extensions: the pure wheel, never the compiled ones beside it
    ("a-1.0-py3-none-any.whl", ["a-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                                "a-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", "a-1.0-py3-none-any.whl"],
     "a-1.0-py3-none-any.whl", "exact"),
])
def test_pick_wheel_prefers_the_exact_name_then_shared_tags_then_pure_then_repaired(rebuilt, published, chosen, kind):
    match = pick_wheel(rebuilt, [_artifact(name) for name in published])
    assert (match.artifact.filename, match.kind) == (chosen, kind) if chosen else match is None


def test_pick_wheel_passes_over_a_yanked_wheel_when_an_equal_one_is_not_yanked():
    published = [_artifact("a-1.0-py2.py3-none-any.whl", yanked=True), _artifact("a-1.0-py3.py4-none-any.whl")]
    assert pick_wheel("a-1.0-py3-none-any.whl", published).artifact.filename == "a-1.0-py3.py4-none-any.whl"


# -- classification on hand-made wheels (no build) ------------------------------------------------

DIST = "uppkg-1.0.dist-info"


def _zip(members: dict[str, bytes], *, date=(1980, 1, 1, 0, 0, 0), reverse=False,
         compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in sorted(members, reverse=reverse):
            info = zipfile.ZipInfo(name, date_time=date)
            info.external_attr, info.compress_type = 0o100644 << 16, compression
            zf.writestr(info, members[name])
    return buffer.getvalue()


def _rezip(wheel: bytes, **how) -> bytes:
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        return _zip({i.filename: zf.read(i) for i in zf.infolist()}, **how)


def _add_member(wheel: bytes, name: str, data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    return _zip({**members, name: data})


@pytest.fixture
def handmade(tmp_path):
    members = {"uppkg/__init__.py": b"VALUE = 1\n", "uppkg/util.py": b"def f():\n    return 2\n",
               f"{DIST}/METADATA": b"Metadata-Version: 2.1\nName: uppkg\nVersion: 1.0\n", f"{DIST}/RECORD": b""}
    path = tmp_path / "rebuilt" / "uppkg-1.0-py3-none-any.whl"
    path.parent.mkdir()
    path.write_bytes(_zip(members))
    return path


def _classify(rebuilt: Path, published_bytes: bytes, tmp_path: Path, name: str | None = None, kind="exact"):
    published = tmp_path / "published" / (name or rebuilt.name)
    published.parent.mkdir(exist_ok=True)
    published.write_bytes(published_bytes)
    artifact = Artifact(published.name, published.as_uri(), hashlib.sha256(published_bytes).hexdigest())
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return classify(rebuilt, published, Match(artifact, kind), scratch)


def test_classify_identical_bytes(handmade, tmp_path):
    upstream = _classify(handmade, handmade.read_bytes(), tmp_path)
    assert (upstream.status, upstream.passes, upstream.differences) == ("identical", (), ())
    assert upstream.sha256 == hashlib.sha256(handmade.read_bytes()).hexdigest()


def test_classify_equivalent_records_the_passes_that_were_needed(handmade, tmp_path):
    published = _rezip(handmade.read_bytes(), date=(2024, 6, 1, 8, 0, 0), reverse=True, compression=zipfile.ZIP_DEFLATED)
    upstream = _classify(handmade, published, tmp_path)
    assert upstream.status == "equivalent"
    assert {"sort_entries", "zero_timestamps", "store_uncompressed"} <= set(upstream.passes)
    assert "drop_extras" not in upstream.passes  # neither wheel had any: not needed, not claimed
    assert "sort_entries" in upstream.note


def test_classify_different_names_the_extra_member(handmade, tmp_path):
    published = _add_member(handmade.read_bytes(), "uppkg/_secret.py", b"import os\n")
    upstream = _classify(handmade, published, tmp_path)
    assert upstream.status == "different"
    assert ("uppkg/_secret.py", "added") in [(d.path, d.kind) for d in upstream.differences]
    assert "uppkg/_secret.py" in upstream.note and "A = the rebuild" in upstream.note


def test_classify_different_content_is_explained_per_member(handmade, tmp_path):
    with zipfile.ZipFile(handmade) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["uppkg/util.py"] = b"def f():\n    return 3\n"
    upstream = _classify(handmade, _zip(members), tmp_path)
    assert upstream.status == "different"
    changed = [d for d in upstream.differences if d.path == "uppkg/util.py"]
    assert changed and changed[0].kind == "content" and "return 3" in changed[0].detail
    assert upstream.note.startswith("after normalising, 1 member differ: uppkg/util.py (A = the rebuild")


def test_a_difference_only_in_metadata_says_so_and_names_both_backends(handmade, tmp_path):
    with zipfile.ZipFile(handmade) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    rebuilt = {**members, f"{DIST}/WHEEL": b"Wheel-Version: 1.0\nGenerator: flit 3.12.0\n"}
    handmade.write_bytes(_zip(rebuilt))
    published = {**members, f"{DIST}/WHEEL": b"Wheel-Version: 1.0\nGenerator: flit 3.9.0\n",
                 f"{DIST}/METADATA": b"Metadata-Version: 2.1\nName: uppkg\nVersion: 1.0\nLicense-File: LICENSE\n"}
    upstream = _classify(handmade, _zip(published), tmp_path)
    assert upstream.status == "different"
    assert f"2 members differ: {DIST}/METADATA, {DIST}/WHEEL;" in upstream.note
    assert "only metadata: all 2 other files are identical" in upstream.note
    assert "made by flit 3.12.0 here, flit 3.9.0 for the index" in upstream.note


def test_check_has_a_no_upstream_flag():
    from pipeline.cli.check import _parser as _check_parser

    assert _check_parser().parse_args(["six", "--no-upstream"]).no_upstream
    assert not _check_parser().parse_args(["six"]).no_upstream


def test_classify_a_repaired_wheel_as_not_comparable_and_count_the_python_files(tmp_path):
    rebuilt = tmp_path / "rebuilt" / "cpkg-1.0-cp311-cp311-linux_x86_64.whl"
    rebuilt.parent.mkdir()
    members = {"cpkg/__init__.py": b"from ._speedups import add\n", "cpkg/util.py": b"X = 1\n",
               "cpkg/_speedups.cpython-311-x86_64-linux-gnu.so": b"\x7fELF plain"}
    rebuilt.write_bytes(_zip(members))
    repaired = {**members, "cpkg/util.py": b"X = 2\n", "cpkg/_speedups.cpython-311-x86_64-linux-gnu.so": b"\x7fELF rpath",
                "cpkg.libs/libfoo-1a2b3c.so.1": b"\x7fELF vendored"}
    upstream = _classify(rebuilt, _zip(repaired), tmp_path,
                         name="cpkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", kind="repaired")
    assert upstream.status == "not-comparable"
    assert "repaired by auditwheel (1 vendored library in cpkg.libs/)" in upstream.note
    assert "1 of 2 Python files identical, 1 differ" in upstream.note
    assert [d.path for d in upstream.differences] == ["cpkg/util.py"]  # only Python files are listed


def test_a_repaired_wheel_without_python_files_says_so_rather_than_0_of_0(tmp_path):
    rebuilt = tmp_path / "rebuilt" / "cpkg-1.0-cp311-cp311-linux_x86_64.whl"
    rebuilt.parent.mkdir()
    rebuilt.write_bytes(_zip({"_cpkg.cpython-311-x86_64-linux-gnu.so": b"\x7fELF plain"}))
    published = _zip({"_cpkg.cpython-311-x86_64-linux-gnu.so": b"\x7fELF other"})
    upstream = _classify(rebuilt, published, tmp_path, name="cpkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                         kind="repaired")
    assert upstream.status == "not-comparable"
    assert "(no vendored libraries and no RPATH: only retagged)" in upstream.note
    assert "built here: its 1 compiled file comes from another compiler and C library" in upstream.note
    assert upstream.note.endswith("so it is not compared; it has no Python files to compare")
    assert "0/0" not in upstream.note


# -- fetching: verified, and failures are not-checked ---------------------------------------------

def _release(index: LocalIndex, name: str) -> Release:
    from pipeline.engine.resolve import resolve_release

    return resolve_release(Client(), index.url, name)


def test_a_wheel_failing_its_digest_is_not_checked_and_never_a_verdict(handmade, index, tmp_path):
    index.add("uppkg", "uppkg-1.0.tar.gz", b"sdist")
    index.add("uppkg", handmade.name, handmade.read_bytes(), published_sha256="ab" * 32)
    upstream = check_upstream(Client(), _release(index, "uppkg"), handmade, tmp_path / "store", tmp_path / "scratch")
    assert upstream.status == "not-checked" and "does not match" in upstream.note
    assert not list((tmp_path / "store").glob("*/*/*.whl")), "a file failing its digest is not kept"


def test_an_unreachable_wheel_is_not_checked_with_the_reason(handmade, tmp_path):
    artifact = Artifact(handmade.name, "http://127.0.0.1:9/uppkg-1.0-py3-none-any.whl", "ab" * 32)
    release = Release("uppkg", "1.0", None, (artifact,))
    upstream = check_upstream(Client(timeout=5, retry=Retry(attempts=1)), release, handmade, tmp_path / "store", tmp_path / "s")
    assert upstream.status == "not-checked" and "cannot reach" in upstream.note
    assert upstream.wheel == handmade.name


def test_a_wheel_without_a_published_digest_is_not_trusted(handmade, tmp_path):
    release = Release("uppkg", "1.0", None, (Artifact(handmade.name, handmade.as_uri(), None),))
    upstream = check_upstream(Client(), release, handmade, tmp_path / "store", tmp_path / "s")
    assert upstream.status == "not-checked" and "no sha256" in upstream.note


def test_a_compiled_rebuild_names_the_pure_wheel_the_index_also_publishes(tmp_path):
    rebuilt = tmp_path / "rebuilt" / "cpkg-1.0-cp311-cp311-linux_x86_64.whl"
    rebuilt.parent.mkdir()
    rebuilt.write_bytes(_zip({"cpkg/__init__.py": b"", "cpkg/_x.cpython-311-x86_64-linux-gnu.so": b"\x7fELF a"}))
    repaired = "cpkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    published = tmp_path / "published" / repaired
    published.parent.mkdir()
    published.write_bytes(_zip({"cpkg/__init__.py": b"", "cpkg/_x.cpython-311-x86_64-linux-gnu.so": b"\x7fELF b"}))
    artifact = Artifact(repaired, published.as_uri(), hashlib.sha256(published.read_bytes()).hexdigest())
    upstream = classify(rebuilt, published, Match(artifact, "repaired"), tmp_path,
                        [artifact, _artifact("cpkg-1.0-py3-none-any.whl"), _artifact("other-1.0-py3-none-any.whl")])
    assert "the one Python file is identical; the index also publishes a pure wheel, cpkg-1.0-py3-none-any.whl, " \
           "which this sdist builds here only as a compiled one" in upstream.note
    release = Release("cpkg", "1.0", None, (_artifact("cpkg-1.0-py3-none-any.whl"),))
    upstream = check_upstream(Client(), release, rebuilt, tmp_path / "store", tmp_path / "s")
    assert upstream.status == "no-wheel"
    assert "among them a pure one, cpkg-1.0-py3-none-any.whl, which this sdist does not build here" in upstream.note


def test_no_wheel_for_the_tag_says_what_else_is_published(handmade, tmp_path):
    release = Release("uppkg", "1.0", None, (_artifact("uppkg-1.0-cp311-cp311-win_amd64.whl"),))
    upstream = check_upstream(Client(), release, handmade, tmp_path / "store", tmp_path / "s")
    assert upstream.status == "no-wheel"
    assert "no py3-none-any wheel for uppkg 1.0" in upstream.note and "1 other wheel" in upstream.note


def test_latest_kept_wheel_takes_the_newest(tmp_path):
    assert latest_kept_wheel(tmp_path / "missing") is None
    old, new = tmp_path / "a-1.0-py3-none-any.whl", tmp_path / "a-1.1-py3-none-any.whl"
    old.write_bytes(b"1")
    new.write_bytes(b"2")
    import os

    os.utime(old, (1_000, 1_000))
    assert latest_kept_wheel(tmp_path) == new


# -- end to end: the fixture sdist built by the checker, its wheel published in variants ----------

@pytest.fixture(scope="module")
def built(tmp_path_factory, shared_out, wheelhouse, sandboxed, interpreters):
    """The fixture sdist built once by the checker (no wheel published yet), and its exact wheel."""
    index = LocalIndex(tmp_path_factory.mktemp("first-index"))
    sdist = intree_sdist("uppkg", "1.0")
    index.add("uppkg", "uppkg-1.0.tar.gz", sdist)
    checker = Checker(CheckOptions(out=shared_out, index_url=index.url, find_links=(str(wheelhouse),),
                                   timeout=120.0, unsandboxed=not sandboxed))
    result = checker.check(checker.target("uppkg"), interpreters["3.11"])
    assert result.status == "reproducible", result.message
    copy = tmp_path_factory.mktemp("rebuilt") / result.builds[0].wheel
    copy.write_bytes(Path(result.builds[0].path).read_bytes())
    return result, sdist, dataclasses.replace(result.builds[0], path=str(copy))


@pytest.mark.slow
def test_check_with_no_wheel_published_records_no_wheel(built):
    result, _, _ = built
    assert result.upstream.status == "no-wheel"
    assert "no py3-none-any wheel for uppkg 1.0" in result.upstream.note


@pytest.mark.slow
def test_check_with_the_identical_wheel_published_records_identical(built, index, make_checker, interpreters):
    _, sdist, build = built
    index.add("uppkg", "uppkg-1.0.tar.gz", sdist)
    index.add("uppkg", build.wheel, Path(build.path).read_bytes())
    checker = make_checker(index)
    result = checker.check(checker.target("uppkg"), interpreters["3.11"])

    assert result.status == "reproducible"
    assert result.upstream.status == "identical"
    assert result.upstream.sha256 == build.sha256 and result.upstream.wheel == build.wheel
    assert Result.from_json(json.loads(json.dumps(result.to_json()))).upstream == result.upstream
    assert "vs the index's wheel: identical" in next(iter(details([result])))


@pytest.mark.slow
@pytest.mark.parametrize("variant, status", [("timestamps-and-order", "equivalent"), ("extra-file", "different")])
def test_a_published_variant_of_the_rebuilt_wheel_is_classified(variant, status, built, index, make_checker,
                                                                 interpreters):
    _, sdist, build = built
    wheel = Path(build.path).read_bytes()
    if variant == "timestamps-and-order":
        published = _rezip(wheel, date=(2024, 11, 5, 10, 0, 0), reverse=True)
    else:
        published = _add_member(wheel, "uppkg/_injected.py", b"import os\n")
    index.add("uppkg", "uppkg-1.0.tar.gz", sdist)
    index.add("uppkg", build.wheel, published)
    checker = make_checker(index)
    upstream = checker.upstream(checker.target("uppkg"), interpreters["3.11"], build)

    assert upstream.status == status
    assert upstream.sha256 == hashlib.sha256(published).hexdigest()
    if status == "equivalent":
        assert {"sort_entries", "zero_timestamps"} <= set(upstream.passes)
    else:
        assert ("uppkg/_injected.py", "added") in [(d.path, d.kind) for d in upstream.differences]
        result = Result("uppkg", "1.0", "3.11.0", "cp311", "reproducible", "", "", "", upstream=upstream)
        assert "added       uppkg/_injected.py: only in B" in next(iter(details([result])))


@pytest.mark.slow
def test_upstream_is_skipped_when_switched_off_or_for_a_local_sdist(built, index, make_checker, interpreters, tmp_path):
    _, sdist, build = built
    index.add("uppkg", "uppkg-1.0.tar.gz", sdist)
    checker = make_checker(index, upstream=False)
    assert checker.upstream(checker.target("uppkg"), interpreters["3.11"], build) is None
    local = tmp_path / "uppkg-1.0.tar.gz"
    local.write_bytes(sdist)
    checker = make_checker(index)
    assert checker.upstream(checker.target(str(local)), interpreters["3.11"], build) is None


@pytest.mark.slow
def test_main_upstream_reuses_the_kept_wheel_and_exits_0_when_verified(built, index, shared_out, wheelhouse,
                                                                      sandboxed, capsys, tmp_path):
    _, sdist, build = built
    index.add("uppkg", "uppkg-1.0.tar.gz", sdist)
    index.add("uppkg", build.wheel, _rezip(Path(build.path).read_bytes(), date=(2020, 1, 1, 0, 0, 0)))
    argv = ["uppkg==1.0", "--python", "3.11", "--index-url", index.url, "--out", str(shared_out),
            "--find-links", str(wheelhouse), "--json", str(tmp_path / "up.json")]
    code = main_upstream(argv + ([] if sandboxed else ["--unsandboxed"]))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "kept from an earlier build" in out and "equivalent" in out
    (record,) = json.loads((tmp_path / "up.json").read_text())
    upstream = Upstream.from_json(record["upstream"])
    assert (record["name"], record["origin"], upstream.status) == ("uppkg", "kept from an earlier build", "equivalent")
    assert upstream.toolchain.status == "not-inferred" and "unknown build backend" in upstream.toolchain.reason

    code = main_upstream(argv + ["--rebuild"] + ([] if sandboxed else ["--unsandboxed"]))
    out = capsys.readouterr().out
    assert code == 0 and "built now: one controlled build" in out and "equivalent" in out


@pytest.mark.slow
def test_a_manylinux_wheel_of_a_c_extension_is_not_comparable(index, make_checker, interpreters):
    index.add("cupkg", "cupkg-1.0.tar.gz", cext_sdist("cupkg", "1.0"))
    checker = make_checker(index)
    result = checker.check(checker.target("cupkg"), interpreters["3.11"])
    assert result.status in ("reproducible", "unreproducible"), result.message
    build = result.builds[0]
    assert build.wheel.endswith("-linux_x86_64.whl")
    repaired_name = build.wheel.replace("linux_x86_64", "manylinux_2_17_x86_64.manylinux2014_x86_64")
    repaired = _add_member(Path(build.path).read_bytes(), "cupkg.libs/libgcc_s-1a2b3c.so.1", b"\x7fELF vendored")
    index.add("cupkg", repaired_name, repaired)
    upstream = checker.upstream(checker.target("cupkg"), interpreters["3.11"], build)
    assert upstream.status == "not-comparable" and upstream.wheel == repaired_name
    assert "the one Python file is identical" in upstream.note and "1 vendored library in cupkg.libs/" in upstream.note


# -- against the real PyPI -------------------------------------------------------------------------

@pytest.mark.network
@pytest.mark.parametrize("requirement, upstream_backend, pinned", [
    ("six==1.17.0", "setuptools (75.6.0)", "setuptools==75.6.0"), ("idna==3.10", "flit 3.9.0", "flit-core==3.9.0")])
def test_a_real_pure_wheel_is_reproduced_with_the_toolchain_that_made_it(requirement, upstream_backend, pinned,
                                                                         shared_out, sandboxed, interpreters):
    """Measured (2026, cp311): today's backends write Metadata-Version 2.4 and move the license
    (PEP 639), so the controlled rebuild is `different` from PyPI's wheel; rebuilt with the
    Generator's backend version and everything else as of the wheel's upload, it is the same."""
    checker = Checker(CheckOptions(out=shared_out, unsandboxed=not sandboxed))
    result = checker.check(checker.target(requirement), interpreters["3.11"])

    assert result.status == "reproducible", result.message
    upstream, chain = result.upstream, result.upstream.toolchain
    assert upstream.url.startswith("https://files.pythonhosted.org/") and len(upstream.sha256) == 64
    assert upstream.reproduced and chain.status == "matched", (upstream.note, chain.reason)
    assert chain.today == "different" and chain.generator == upstream_backend
    assert any(line.startswith(pinned + " ") for line in chain.lock)
