"""The caps on a hostile zip, checked on its central directory before anything is inflated."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from pipeline.errors import WheelOverCap, WheelUnreadable
from pipeline.explain.limits import ZipLimits, count_members, member_problem, open_zip
from tests import bombs

MiB = 1024**2


@pytest.fixture(scope="module")
def zips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("zips")
    return {
        "bomb": bombs.bomb(folder / "bomb.whl", 32 * MiB),
        "many": bombs.many_members(folder / "many.whl", 200_000),
        "few": bombs.many_members(folder / "few.whl", 10),
        "honest": bombs.wheel(folder / "honest.whl"),
    }


def test_200000_members_are_refused_from_the_directory_without_zipfile(zips, monkeypatch):
    # zipfile builds 200,000 ZipInfo objects (about 200 MB and a second here) before it can count
    # them; the directory is read as bytes once (11 MB) and walked instead
    monkeypatch.setattr(zipfile, "ZipFile", lambda *args, **kwargs: pytest.fail("zipfile parsed the directory"))
    started = time.monotonic()
    with pytest.raises(WheelOverCap, match=r"many\.whl before inflating it: more than 100,000 members, the cap$"):
        open_zip(zips["many"])
    assert time.monotonic() - started < 0.5


def test_counts_match_zipfile_for_classic_and_zip64_directories(zips):
    assert count_members(zips["few"]) == 10
    assert zipfile.ZipFile(zips["few"]).testzip() is None, "the premise: the hand-made zips are valid"
    assert count_members(zips["honest"]) == len(zipfile.ZipFile(zips["honest"]).infolist())
    assert count_members(zips["many"], ZipLimits(members=200_000)) == 200_000  # zip64 end records


def test_a_huge_central_directory_is_refused_before_it_is_read(zips):
    with pytest.raises(WheelOverCap, match=r"a central directory of [\d,]+ bytes, over the 1 MiB cap"):
        count_members(zips["many"], ZipLimits(members=10**6, directory=MiB))


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x05\x06"])
def test_what_is_not_a_zip_is_unreadable(tmp_path, data):
    path = tmp_path / "x.whl"
    path.write_bytes(data)
    with pytest.raises(WheelUnreadable, match="not a zip archive"):
        open_zip(path)


def test_a_bomb_member_is_named_by_its_ratio_and_a_small_dense_one_is_not(zips):
    with zipfile.ZipFile(zips["bomb"]) as archive:
        info = archive.getinfo("demo/bomb.bin")
    problem = member_problem(info.filename, info.file_size, info.compress_size)
    assert problem is not None and problem.startswith("member demo/bomb.bin inflates to 33,554,432 bytes from ")
    assert problem.endswith(":1, over the 200:1 cap") and info.compress_size < 40_000
    assert member_problem("zeros.bin", MiB, 1100) is None, "a MiB of zeros is no bomb: under the ratio floor"
    assert member_problem("code.py", 30 * MiB, 3 * MiB) is None


def test_the_total_inflated_size_is_capped_before_opening_a_member(zips):
    with pytest.raises(WheelOverCap, match=r"33,55[\d,]+ bytes inflated in all, over the 16 MiB cap"):
        open_zip(zips["bomb"], ZipLimits(inflated=16 * MiB))
    with open_zip(zips["honest"]) as archive:
        assert archive.namelist()[0] == "demo/__init__.py"
