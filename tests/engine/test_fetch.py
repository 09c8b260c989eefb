"""The content-addressed store: a file is kept under its sha256 and refused when that is not the index's,
when the index publishes none, when its entry was refused, or when it is over the download cap."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.engine.fetch import add_local, fetch_artifact, sha256_of, store_path
from pipeline.engine.net import Caps, Client
from pipeline.engine.resolve import fetch_files
from pipeline.errors import DigestMismatch, IndexRefused, UsageError
from pipeline.records import Artifact
from tests.sdists import intree_sdist


def test_a_verified_download_lands_under_its_digest_and_is_reused(tmp_path):
    source = tmp_path / "demo-1.0.tar.gz"
    source.write_bytes(b"sdist bytes")
    digest = hashlib.sha256(b"sdist bytes").hexdigest()
    artifact = Artifact("demo-1.0.tar.gz", source.as_uri(), digest)
    stored = fetch_artifact(Client(), artifact, tmp_path / "store")
    assert stored == tmp_path / "store" / digest[:2] / digest / "demo-1.0.tar.gz" and sha256_of(stored) == digest
    source.unlink()
    assert fetch_artifact(Client(), artifact, tmp_path / "store") == stored, "the store answers without the source"


def test_a_file_whose_digest_differs_is_refused_and_not_kept(tmp_path):
    source = tmp_path / "demo-1.0.tar.gz"
    source.write_bytes(b"tampered")
    with pytest.raises(DigestMismatch, match="does not match the index's"):
        fetch_artifact(Client(), Artifact(source.name, source.as_uri(), "0" * 64), tmp_path / "store")
    assert not [p for p in (tmp_path / "store").rglob("*") if p.is_file()]


@pytest.mark.parametrize("name", ["../x.tar.gz", "a/b.tar.gz", "", ".", ".."])
def test_a_file_name_with_a_path_is_refused(tmp_path, name):
    with pytest.raises(UsageError):
        store_path(tmp_path, "0" * 64, name)


def test_a_local_sdist_is_copied_in_by_digest(tmp_path):
    source = tmp_path / "mine-0.1.tar.gz"
    source.write_bytes(b"local")
    stored, digest = add_local(source, tmp_path / "store")
    assert digest == hashlib.sha256(b"local").hexdigest() and stored.read_bytes() == b"local"
    with pytest.raises(UsageError, match="no such file"):
        add_local(tmp_path / "missing.tar.gz", tmp_path / "store")


# -- what the index says is checked before a byte is fetched ---------------------------------------------


def _stored(store: Path) -> list[Path]:
    return [p for p in store.rglob("*") if p.is_file()] if store.exists() else []


def test_an_index_entry_without_a_digest_is_refused_before_it_is_fetched(index, tmp_path):
    index.add("demo", "demo-1.0.tar.gz", b"sdist bytes")
    _without_digest(index, "demo")
    (sdist,), _ = fetch_files(Client(), index.url, "demo")
    assert sdist.refused == "the index publishes no sha256 for it, so its bytes cannot be verified"
    with pytest.raises(IndexRefused, match=r"^refused demo-1\.0\.tar\.gz: the index publishes no sha256 for it, so its "
                                           r"bytes cannot be verified$"):
        fetch_artifact(Client(), sdist, tmp_path / "store")
    assert _stored(tmp_path / "store") == []


def test_a_file_given_without_a_digest_is_kept_under_the_one_it_has(tmp_path):
    # not from an index (an sdist URL on the command line): nothing was published to check it against
    source = tmp_path / "demo-1.0.tar.gz"
    source.write_bytes(b"sdist bytes")
    stored = fetch_artifact(Client(), Artifact(source.name, source.as_uri(), None), tmp_path / "store")
    assert stored.parent.name == hashlib.sha256(b"sdist bytes").hexdigest()


def test_an_entry_resolve_refused_is_never_fetched(tmp_path):
    artifact = Artifact("demo-1.0.tar.gz", "", None, refused="its URL 'file:///etc/passwd' is a file: URL on an http index")
    with pytest.raises(IndexRefused, match=r"refused demo-1\.0\.tar\.gz: its URL 'file:///etc/passwd' is a file: URL"):
        fetch_artifact(Client(), artifact, tmp_path / "store")
    assert _stored(tmp_path / "store") == []


def test_a_file_over_the_download_cap_is_refused_and_nothing_is_kept(tmp_path):
    big = tmp_path / "big-1.0.tar.gz"
    with open(big, "wb") as handle:
        handle.truncate(64 << 20)  # sparse
    client = Client(caps=Caps(download_bytes=1 << 20))
    said = Artifact(big.name, big.as_uri(), "0" * 64, size=64 << 20)
    with pytest.raises(IndexRefused, match="the index says it is 67108864 bytes, over the 1 MiB cap"):
        fetch_artifact(client, said, tmp_path / "store")
    with pytest.raises(IndexRefused, match="it is over the 1 MiB cap"):
        fetch_artifact(client, replace(said, size=None), tmp_path / "store")
    assert _stored(tmp_path / "store") == [], "not even a partial file in incoming/"


@pytest.mark.parametrize("sha256", ["../../../../etc", "0" * 63, "g" * 64, ""])
def test_a_digest_that_is_not_a_sha256_never_names_a_path(tmp_path, sha256):
    with pytest.raises(UsageError, match="is not a sha256"):
        store_path(tmp_path, sha256, "demo-1.0.tar.gz")


@pytest.mark.parametrize("name", ["demo\x00-1.0.tar.gz", "demo\x1b[2J-1.0.tar.gz", "demo\u202e-1.0.tar.gz", "a\\b.tar.gz"])
def test_a_file_name_with_control_characters_is_refused(tmp_path, name):
    with pytest.raises(UsageError, match="refusing the file name"):
        store_path(tmp_path, "0" * 64, name)


def _without_digest(index, name: str) -> None:
    page = index.root / "simple" / name / "index.html"
    page.write_text(re.sub(r"#sha256=[0-9a-f]{64}", "", page.read_text()))


def test_a_release_without_a_digest_is_an_error_result_not_a_crash(http_index, make_checker, interpreters):
    index, url = http_index
    index.add("nodigest", "nodigest-1.0.tar.gz", intree_sdist("nodigest", "1.0"))
    _without_digest(index, "nodigest")
    checker = make_checker(index, index_url=url)
    target = checker.target("nodigest")
    assert target.sdist_path is None
    result = checker.check(target, interpreters["3.11"])
    assert result.status == "error" and not result.builds
    assert result.message == ("refused nodigest-1.0.tar.gz: the index publishes no sha256 for it, so its bytes "
                              "cannot be verified")


@pytest.mark.slow
def test_hostile_entries_beside_an_innocent_package_leave_its_verdict_true(http_index, make_checker, interpreters):
    index, url = http_index
    index.add("nodigest", "nodigest-1.0.tar.gz", intree_sdist("nodigest", "1.0"))
    _without_digest(index, "nodigest")
    index.add("hostile", "hostile-1.0.tar.gz", intree_sdist("hostile", "1.0"))
    index.add("innocent", "innocent-1.0.tar.gz", intree_sdist("innocent", "1.0"))
    for name, links in (("hostile", '<a href="file:///etc/hostile-2.0.tar.gz">x</a>'),
                        ("innocent", '<a href="file:///etc/passwd">x</a><a href="../../files/innocent-1.1%00.tar.gz">y</a>'
                                     '<a href="javascript:alert(1)">z</a>')):
        page = index.root / "simple" / name / "index.html"
        page.write_text(page.read_text().replace("</body>", links + "</body>"))
    checker = make_checker(index, index_url=url)
    results = {spec: checker.check(checker.target(spec), interpreters["3.11"])
               for spec in ("nodigest", "hostile", "innocent")}

    assert results["nodigest"].status == "error" and "publishes no sha256" in results["nodigest"].message
    # the newest release's only sdist is refused: an error (retried later), never an older release instead
    assert (results["hostile"].version, results["hostile"].status) == ("2.0", "error")
    assert "'file:///etc/hostile-2.0.tar.gz' is a file: URL on an http index" in results["hostile"].message
    innocent = results["innocent"]  # its bad entries name no release: skipped, the rest resolves
    assert (innocent.version, innocent.status) == ("1.0", "reproducible"), innocent.message
    stored = {p.name for p in checker.workspace.sdists.rglob("*") if p.is_file()}  # the session's store
    assert "innocent-1.0.tar.gz" in stored and not stored & {"hostile-2.0.tar.gz", "passwd", "nodigest-1.0.tar.gz"}
