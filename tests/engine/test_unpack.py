"""Safe unpack: hostile archives refused before anything is written."""

from __future__ import annotations

import pytest

from pipeline.engine.unpack import unpack_sdist
from pipeline.errors import UnsafeArchive
from tests.sdists import hostile_sdist, intree_sdist


def test_a_plain_sdist_unpacks_to_its_top_folder(tmp_path):
    archive = tmp_path / "ok-1.0.tar.gz"
    archive.write_bytes(intree_sdist("ok", "1.0"))
    root = unpack_sdist(archive, tmp_path / "dest")
    assert root == tmp_path / "dest" / "ok-1.0"
    assert (root / "pyproject.toml").is_file()


@pytest.mark.parametrize(
    "kind, words",
    [("dotdot", "outside"), ("absolute", "absolute path"), ("symlink", "absolute path"), ("linkout", "link out")],
)
def test_hostile_archives_are_refused_whole(tmp_path, kind, words):
    archive = tmp_path / "evil-1.0.tar.gz"
    archive.write_bytes(hostile_sdist("evil", "1.0", kind))
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchive, match=words):
        unpack_sdist(archive, dest)
    assert not dest.exists() or not any(dest.rglob("*"))
    assert not (tmp_path / "escaped.txt").exists()


def test_a_file_that_is_not_a_tarball_is_refused(tmp_path):
    archive = tmp_path / "junk-1.0.tar.gz"
    archive.write_bytes(b"not a tarball")
    with pytest.raises(UnsafeArchive, match="not a readable tar"):
        unpack_sdist(archive, tmp_path / "dest")
