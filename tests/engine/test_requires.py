"""Requires-Python: admitting interpreters, and reading PKG-INFO out of a hostile sdist without unpacking it."""

from __future__ import annotations

import tarfile
import zipfile

import pytest

from pipeline.engine.requires import MAX_PKG_INFO, admits, clean, exclusion, read_requires_python
from tests.sdists import _tar, intree_sdist


@pytest.mark.parametrize("spec, python, ok", [
    (">=3.10", "3.9.18", False), (">=3.10", "3.10.0", True), ("!=3.9.*,>=3.8", "3.9.1", False),
    ("<3.13", "3.13.0", False), (">=3.9.2", "3.9.1", False), (None, "3.9.1", True), ("", "3.9.1", True),
    ("not a specifier", "3.9.1", True), (">=3.14", "3.14.0rc1", True),
])
def test_admits(spec, python, ok):
    assert admits(spec, python) is ok


def test_the_reason_names_the_requirement_and_the_interpreter():
    assert exclusion(">=3.10", "3.9.18") == "requires Python >=3.10 (this interpreter is 3.9.18)"
    assert exclusion(">=3.10", "3.12.1") == ""
    assert clean("  >=3.8,\n <4 ") == ">=3.8, <4" and clean(7) is None and clean("  ") is None


def test_pkg_info_of_a_tar_and_a_zip_sdist(tmp_path):
    tar = tmp_path / "demo-1.0.tar.gz"
    tar.write_bytes(intree_sdist("demo", "1.0", requires_python=">=3.10"))
    assert read_requires_python(tar) == ">=3.10"
    bare = tmp_path / "bare-1.0.tar.gz"
    bare.write_bytes(intree_sdist("bare", "1.0"))
    assert read_requires_python(bare) == "", "a PKG-INFO that declares nothing admits every Python"
    zipped = tmp_path / "demo-1.0.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("demo-1.0/sub/PKG-INFO", "Requires-Python: >=3.99\n")  # not the top one
        archive.writestr("demo-1.0/PKG-INFO", "Metadata-Version: 2.1\nRequires-Python: <3.12\n")
    assert read_requires_python(zipped) == "<3.12"


def test_hostile_archives_give_no_answer_rather_than_a_wrong_one(tmp_path):
    huge = tmp_path / "huge-1.0.tar.gz"
    huge.write_bytes(_tar({"huge-1.0/PKG-INFO": b"Requires-Python: >=3.10\n" + b"x" * MAX_PKG_INFO}))
    assert read_requires_python(huge) is None
    linked = tmp_path / "linked-1.0.tar.gz"
    link = tarfile.TarInfo("linked-1.0/PKG-INFO")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    linked.write_bytes(_tar({}, [link]))
    assert read_requires_python(linked) is None, "a link is never followed"
    garbage = tmp_path / "garbage-1.0.tar.gz"
    garbage.write_bytes(b"\x1f\x8b not really gzip")
    assert read_requires_python(garbage) is None
    nested = tmp_path / "nested-1.0.tar.gz"
    nested.write_bytes(_tar({"nested-1.0/vendor/PKG-INFO": b"Requires-Python: >=3.99\n"}))
    assert read_requires_python(nested) is None
