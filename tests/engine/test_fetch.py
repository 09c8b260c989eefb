"""The content-addressed store: a file is kept under its sha256 and refused when that is not the index's."""

from __future__ import annotations

import hashlib

import pytest

from pipeline.engine.fetch import add_local, fetch_artifact, sha256_of, store_path
from pipeline.engine.net import Client
from pipeline.errors import DigestMismatch, UsageError
from pipeline.records import Artifact


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
