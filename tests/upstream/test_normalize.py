"""Normalisation passes, each on a hand-made wheel; any order gives the same bytes; RECORD last;
hostile wheels refused before a byte is written."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import random
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from pipeline.engine.net import Client
from pipeline.errors import UsageError, WheelOverCap, WheelUnreadable
from pipeline.explain.limits import ZipLimits
from pipeline.records import Artifact, Release
from pipeline.upstream.compare import check_upstream
from pipeline.upstream.normalize import (
    ALL_STEPS,
    PASSES,
    REWRITE_RECORD,
    ZIP_EPOCH,
    Layout,
    normalize,
    read_layout,
    record_digest,
)
from tests import bombs
from tests.sdists import intree_sdist

DIST = "demo-1.0.dist-info"
MiB = 1024**2
MEMBERS = {
    "demo/__init__.py": b"from .core import answer\n",
    "demo/core.py": b"def answer():\n    return 42\n" * 50,
    "demo/run.sh": b"#!/bin/sh\necho hi\n",
    f"{DIST}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
    f"{DIST}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
EXTENDED_TIMESTAMP = struct.pack("<HHBl", 0x5455, 5, 1, 1_700_000_000)


def _record(members: dict[str, bytes]) -> bytes:
    lines = []
    for name, data in members.items():
        if not name.endswith("/"):
            lines.append(f"{name},{record_digest(hashlib.sha256(data).digest())},{len(data)}")
    return ("\n".join(lines + [f"{DIST}/RECORD,,"]) + "\n").encode()


def make_wheel(path: Path, members: dict[str, bytes] = MEMBERS, *, order=None, date=ZIP_EPOCH,
               compression=zipfile.ZIP_STORED, mode=0o644, modes=None, extra=b"", comment=b"",
               record: bytes | None = None, record_first: bool = False) -> Path:
    """A wheel zipped the way the keyword arguments say; RECORD correct unless given."""
    record = _record(members) if record is None else record
    items = [(name, members[name]) for name in (order or members)]
    items = [(f"{DIST}/RECORD", record), *items] if record_first else [*items, (f"{DIST}/RECORD", record)]
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in items:
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = compression
            info.external_attr = ((modes or {}).get(name, mode) | (0o040000 if name.endswith("/") else 0o100000)) << 16
            info.extra = extra
            zf.writestr(info, data)
        zf.comment = comment
    return path


def _infos(path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as zf:
        return zf.infolist()


def _contents(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


@pytest.fixture
def normal(tmp_path) -> Path:
    """A wheel that is already normal: every pass finds nothing to do."""
    plain = make_wheel(tmp_path / "plain.whl", order=sorted(MEMBERS), modes={"demo/run.sh": 0o755})
    out = tmp_path / "normal.whl"
    normalize(plain, out)
    return out


def test_a_normal_wheel_needs_no_pass_and_normalising_again_changes_no_byte(normal, tmp_path):
    again = tmp_path / "again.whl"
    assert normalize(normal, again) == ()
    assert again.read_bytes() == normal.read_bytes()


def test_sort_entries_puts_dist_info_after_the_package_and_record_last(tmp_path):
    wheel = make_wheel(tmp_path / "w.whl", order=[f"{DIST}/WHEEL", "demo/run.sh", f"{DIST}/METADATA",
                                                  "demo/core.py", "demo/__init__.py"], record_first=True)
    out = tmp_path / "out.whl"
    assert normalize(wheel, out, passes=["sort_entries"]) == ("sort_entries",)
    assert [i.filename for i in _infos(out)] == [
        "demo/__init__.py", "demo/core.py", "demo/run.sh", f"{DIST}/METADATA", f"{DIST}/WHEEL", f"{DIST}/RECORD",
    ]


def test_zero_timestamps_dates_every_member_1980(tmp_path):
    wheel = make_wheel(tmp_path / "w.whl", date=(2024, 5, 1, 12, 30, 8))
    out = tmp_path / "out.whl"
    assert normalize(wheel, out, passes=["zero_timestamps"]) == ("zero_timestamps",)
    assert {i.date_time for i in _infos(out)} == {ZIP_EPOCH}


def test_store_uncompressed_keeps_the_bytes_and_drops_the_method(tmp_path):
    wheel = make_wheel(tmp_path / "w.whl", compression=zipfile.ZIP_DEFLATED)
    out = tmp_path / "out.whl"
    assert normalize(wheel, out, passes=["store_uncompressed"]) == ("store_uncompressed",)
    assert {i.compress_type for i in _infos(out)} == {zipfile.ZIP_STORED}
    assert _contents(out) == _contents(wheel)


def test_normalize_modes_keeps_only_the_executable_bit(tmp_path):
    members = {"demo/": b"", **MEMBERS}
    wheel = make_wheel(tmp_path / "w.whl", members, mode=0o664, modes={"demo/run.sh": 0o750, "demo/": 0o700})
    out = tmp_path / "out.whl"
    assert normalize(wheel, out, passes=["normalize_modes"]) == ("normalize_modes",)
    modes = {i.filename: i.external_attr >> 16 for i in _infos(out)}
    assert modes["demo/run.sh"] == 0o100755
    assert modes["demo/core.py"] == modes[f"{DIST}/RECORD"] == 0o100644
    assert modes["demo/"] == 0o040755
    assert {i.create_system for i in _infos(out)} == {3}


def test_normalize_modes_reads_a_dos_made_member_as_a_plain_file(tmp_path):
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        info = zipfile.ZipInfo("demo/__init__.py", date_time=ZIP_EPOCH)
        info.create_system, info.external_attr = 0, 0x20  # MS-DOS "archive" attribute, no unix mode
        zf.writestr(info, b"x = 1\n")
    normalize(wheel, tmp_path / "out.whl", passes=["normalize_modes"])
    (info,) = _infos(tmp_path / "out.whl")
    assert (info.create_system, info.external_attr >> 16) == (3, 0o100644)


def test_drop_extras_removes_extra_fields_and_comments(tmp_path):
    wheel = make_wheel(tmp_path / "w.whl", extra=EXTENDED_TIMESTAMP, comment=b"made on my laptop")
    out = tmp_path / "out.whl"
    assert normalize(wheel, out, passes=["drop_extras"]) == ("drop_extras",)
    with zipfile.ZipFile(out) as zf:
        assert zf.comment == b""
        assert {(i.extra, i.comment) for i in zf.infolist()} == {(b"", b"")}


def test_rewrite_record_is_the_final_stage_and_lists_the_members_as_stored(tmp_path):
    stale = b"demo/core.py,sha256=AAAA,1\n" + _record(MEMBERS)  # a wrong row first, rows out of order
    wheel = make_wheel(tmp_path / "w.whl", record=stale, date=(2024, 1, 1, 0, 0, 0))
    out = tmp_path / "out.whl"
    steps = normalize(wheel, out)
    assert steps[-1] == REWRITE_RECORD and "zero_timestamps" in steps
    rows = list(csv.reader(io.StringIO(_contents(out)[f"{DIST}/RECORD"].decode())))
    expected = [[name, record_digest(hashlib.sha256(data).digest()), str(len(data))]
                for name, data in MEMBERS.items()]  # already: package, then .dist-info
    assert rows == expected + [[f"{DIST}/RECORD", "", ""]]


def test_record_is_rewritten_even_when_it_is_not_last(tmp_path):
    """Without the sort pass RECORD stays first; its rows still come from the members after it."""
    wheel = make_wheel(tmp_path / "w.whl", record=b"garbage\n", record_first=True)
    out = tmp_path / "out.whl"
    assert normalize(wheel, out, passes=()) == (REWRITE_RECORD,)
    assert _infos(out)[0].filename == f"{DIST}/RECORD"
    assert _contents(out)[f"{DIST}/RECORD"] == _record(MEMBERS)


def test_member_bytes_other_than_record_are_never_changed(tmp_path):
    wheel = make_wheel(tmp_path / "w.whl", record=b"stale\n", compression=zipfile.ZIP_DEFLATED, mode=0o600)
    normalize(wheel, tmp_path / "out.whl")
    before, after = _contents(wheel), _contents(tmp_path / "out.whl")
    assert before.keys() == after.keys()
    assert {k: v for k, v in before.items() if not k.endswith("RECORD")} == {
        k: v for k, v in after.items() if not k.endswith("RECORD")
    }


def test_passes_in_any_order_give_the_same_bytes(tmp_path):
    wheel = make_wheel(tmp_path / "messy.whl", order=list(reversed(MEMBERS)), date=(2023, 3, 4, 5, 6, 8),
                       compression=zipfile.ZIP_DEFLATED, mode=0o664, modes={"demo/run.sh": 0o775},
                       extra=EXTENDED_TIMESTAMP, comment=b"c", record=b"stale\n", record_first=True)
    outputs = set()
    for number, order in enumerate(itertools.permutations(PASSES)):
        out = tmp_path / f"out{number}.whl"
        assert sorted(normalize(wheel, out, passes=order)) == sorted(ALL_STEPS)
        outputs.add(out.read_bytes())
    assert len(outputs) == 1


@pytest.mark.parametrize("name", list(PASSES))
def test_each_pass_is_pure_idempotent_and_touches_only_its_own_fields(name, tmp_path):
    wheel = make_wheel(tmp_path / "messy.whl", order=list(reversed(MEMBERS)), date=(2023, 3, 4, 5, 6, 8),
                       compression=zipfile.ZIP_DEFLATED, mode=0o664, extra=EXTENDED_TIMESTAMP, comment=b"c")
    with zipfile.ZipFile(wheel) as zf:
        layout = read_layout(zf)
    once = PASSES[name](layout)
    assert once != layout and PASSES[name](once) == once
    for other in PASSES:
        if other != name:  # commuting with every other pass is what makes the order irrelevant
            assert PASSES[other](once) == PASSES[name](PASSES[other](layout))
    assert isinstance(once, Layout) and read_layout(zipfile.ZipFile(wheel)) == layout


def test_wheels_differing_only_in_how_they_were_zipped_normalise_to_the_same_bytes(tmp_path):
    a = make_wheel(tmp_path / "a.whl", date=(2024, 2, 2, 2, 2, 2), compression=zipfile.ZIP_DEFLATED, mode=0o664)
    b = make_wheel(tmp_path / "b.whl", order=sorted(MEMBERS, reverse=True), extra=EXTENDED_TIMESTAMP)
    normalize(a, tmp_path / "na.whl")
    normalize(b, tmp_path / "nb.whl")
    assert (tmp_path / "na.whl").read_bytes() == (tmp_path / "nb.whl").read_bytes()


@pytest.mark.parametrize("change", ["executable bit", "content", "extra member"])
def test_what_changes_behaviour_survives_normalisation(change, tmp_path):
    members, modes = dict(MEMBERS), {}
    if change == "executable bit":
        modes = {"demo/run.sh": 0o755}
    elif change == "content":
        members["demo/core.py"] = b"def answer():\n    return 43\n"
    else:
        members["demo/extra.py"] = b""
    normalize(make_wheel(tmp_path / "a.whl"), tmp_path / "na.whl")
    normalize(make_wheel(tmp_path / "b.whl", members, modes=modes), tmp_path / "nb.whl")
    assert (tmp_path / "na.whl").read_bytes() != (tmp_path / "nb.whl").read_bytes()


def test_bad_input_is_a_clear_error(tmp_path):
    (tmp_path / "not.whl").write_bytes(b"not a zip")
    with pytest.raises(WheelUnreadable, match="not a zip"):
        normalize(tmp_path / "not.whl", tmp_path / "out.whl")
    with pytest.raises(WheelUnreadable, match="no such file"):
        normalize(tmp_path / "missing.whl", tmp_path / "out.whl")
    with pytest.raises(UsageError, match="unknown normalisation pass 'shuffle'"):
        normalize(make_wheel(tmp_path / "w.whl"), tmp_path / "out.whl", passes=["shuffle"])
    assert not (tmp_path / "out.whl").exists() and not list(tmp_path.glob(".norm-*"))


# -- hostile wheels: refused before a byte is written, or written no larger than their headers say --------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    inner = bombs.bomb(folder / "inner.zip", 16 * MiB, members=())
    return {
        "bomb": bombs.bomb(folder / "bomb.whl", 32 * MiB),
        "many": bombs.many_members(folder / "many.whl", 200_000),
        "liar": bombs.understated(folder / "liar.whl", 32 * MiB, MiB),
        "nested": bombs.nested(folder / "nested.whl", inner),
        "inner": inner,
    }


def _written(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


@pytest.mark.parametrize("kind, reason", [
    ("bomb", r"member demo/bomb\.bin inflates to 33,554,432 bytes from [\d,]+ stored, [\d,]+:1, over the 200:1 cap"),
    ("many", r"more than 100,000 members, the cap"),
])
def test_a_wheel_over_a_cap_is_refused_before_a_byte_is_written(hostile, tmp_path, kind, reason):
    out = tmp_path / "scratch" / "normal.whl"
    with pytest.raises(WheelOverCap, match=rf"^refused wheel .*{kind}\.whl before inflating it: {reason}$"):
        normalize(hostile[kind], out)
    assert _written(tmp_path / "scratch") == 0 and not (tmp_path / "scratch").exists()


def test_the_total_inflated_size_is_capped(hostile, tmp_path):
    with pytest.raises(WheelOverCap, match=r"bytes inflated in all, over the 16 MiB cap"):
        normalize(hostile["bomb"], tmp_path / "out" / "n.whl", limits=ZipLimits(inflated=16 * MiB, ratio=10**6))
    assert _written(tmp_path / "out") == 0


def test_a_member_is_never_inflated_past_the_size_its_headers_declare(hostile, tmp_path):
    # 32 MiB of zeros behind headers that say 1 MiB: zipfile stops at the declared size
    out = tmp_path / "out" / "n.whl"
    normalize(hostile["liar"], out, rewrite_record=False)
    assert _contents(out)["demo/liar.bin"] == bytes(MiB)
    assert _written(tmp_path / "out") < MiB + 4096


def test_a_bomb_inside_a_member_is_copied_as_bytes(hostile, tmp_path):
    out = tmp_path / "out" / "n.whl"
    normalize(hostile["nested"], out)
    assert _contents(out)["demo/data/inner.zip"] == hostile["inner"].read_bytes()
    assert out.stat().st_size < 2 * hostile["nested"].stat().st_size


def test_the_old_record_is_hashed_not_read_whole(tmp_path):
    noise = random.Random(0).randbytes(24 * MiB)  # incompressible: under the ratio cap, over any sane RECORD
    wheel = make_wheel(tmp_path / "w.whl", record=noise)
    tracemalloc.start()
    try:
        steps = normalize(wheel, tmp_path / "n.whl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert REWRITE_RECORD in steps and peak < 8 * MiB


def test_a_bomb_published_by_the_index_is_not_checked_and_leaves_nothing(hostile, tmp_path):
    rebuilt = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl")
    published = tmp_path / "index" / "demo-1.0-py3-none-any.whl"
    published.parent.mkdir()
    published.write_bytes(hostile["bomb"].read_bytes())
    artifact = Artifact(published.name, published.as_uri(), hashlib.sha256(published.read_bytes()).hexdigest())
    upstream = check_upstream(Client(), Release("demo", "1.0", None, (artifact,)), rebuilt, tmp_path / "store",
                              tmp_path / "scratch")
    assert upstream.status == "not-checked"
    assert upstream.note.startswith("refused wheel ") and "over the 200:1 cap" in upstream.note
    assert _written(tmp_path / "scratch") == 0, "no normalised copy, not even a partial one"


@pytest.mark.slow
def test_a_bomb_published_beside_a_reproducible_build_keeps_its_verdict(index, make_checker, interpreters, tmp_path):
    index.add("bombpkg", "bombpkg-1.0.tar.gz", intree_sdist("bombpkg", "1.0"))
    bomb = bombs.bomb(tmp_path / "bombpkg-1.0-py3-none-any.whl", 128 * MiB)
    index.add("bombpkg", bomb.name, bomb.read_bytes())
    checker = make_checker(index)
    result = checker.check(checker.target("bombpkg"), interpreters["3.11"])
    assert result.status == "reproducible", result.message
    assert result.upstream.status == "not-checked" and "before inflating it" in result.upstream.note
