"""Golden tests for pipeline.explain on small hand-made wheels (one change per case)."""

from __future__ import annotations

import base64
import hashlib
import random
import shutil
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import pytest

from pipeline.cli import main
from pipeline.errors import PipelineError, WheelUnreadable
from pipeline.explain import CAUSES, ZipLimits, compare_wheels, format_differences
from tests import bombs

DIST = "demo-1.0.dist-info"
RECORD = f"{DIST}/RECORD"
METADATA = f"{DIST}/METADATA"
EPOCH = (2020, 2, 2, 0, 0, 0)
MiB = 1024**2


@dataclass(frozen=True)
class Spec:
    name: str
    data: bytes
    mode: int = 0o644
    date: tuple[int, int, int, int, int, int] = EPOCH
    compress: int = zipfile.ZIP_DEFLATED
    level: int | None = None


def _words(seed: int, n: int = 4000) -> bytes:
    rng = random.Random(seed)
    vocabulary = ["alpha", "beta", "gamma", "delta", "wheel", "build", "path", "seed", "zip", "byte"]
    return " ".join(rng.choice(vocabulary) for _ in range(n)).encode()


BASE = (
    Spec("demo/__init__.py", b'"""Demo."""\nVALUE = 1\n'),
    Spec("demo/_build.py", b'BUILD_DIR = "/tmp/build-xyz/src"\nDEBUG = False\n'),
    Spec("demo/names.py", b"NAMES = {'alpha', 'beta', 'gamma'}\n"),
    Spec("demo/stamp.py", b'BUILT = "2024-05-01 12:00:00"\n'),
    Spec("demo/blob.bin", random.Random(1).randbytes(4096)),
    Spec("demo/words.txt", _words(0)),
    Spec(METADATA, b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: attrs\nRequires-Dist: idna\n\nDemo.\n"),
    Spec(
        f"{DIST}/WHEEL",
        b"Wheel-Version: 1.0\nGenerator: handmade (/tmp/pip-build-env-a1/lib)\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    ),
    Spec(f"{DIST}/entry_points.txt", b"[console_scripts]\ndemo = demo:main\n"),
)


def _record(specs: tuple[Spec, ...]) -> bytes:
    rows = []
    for spec in sorted(specs, key=lambda s: s.name):  # sorted, so member order alone leaves RECORD alone
        digest = base64.urlsafe_b64encode(hashlib.sha256(spec.data).digest()).rstrip(b"=").decode()
        rows.append(f"{spec.name},sha256={digest},{len(spec.data)}\n")
    rows.append(f"{RECORD},,\n")
    return "".join(rows).encode()


def write_wheel(path: Path, specs: tuple[Spec, ...], comment: bytes = b"") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for spec in (*specs, Spec(RECORD, _record(specs))):
            info = zipfile.ZipInfo(spec.name, spec.date)
            info.external_attr = (0o100000 | spec.mode) << 16
            info.create_system = 3
            info.compress_type = spec.compress
            archive.writestr(info, spec.data, compresslevel=spec.level)
        archive.comment = comment
    return path


def change(name: str, **fields: object) -> Callable[[tuple[Spec, ...]], tuple[Spec, ...]]:
    return lambda specs: tuple(replace(s, **fields) if s.name == name else s for s in specs)


def everyone(**fields: object) -> Callable[[tuple[Spec, ...]], tuple[Spec, ...]]:
    return lambda specs: tuple(replace(s, **fields) for s in specs)


def swap(i: int, j: int) -> Callable[[tuple[Spec, ...]], tuple[Spec, ...]]:
    def mutate(specs: tuple[Spec, ...]) -> tuple[Spec, ...]:
        out = list(specs)
        out[i], out[j] = out[j], out[i]
        return tuple(out)

    return mutate


DERIVED = (RECORD, "content", "derived")

#: id -> (how wheel B differs from wheel A, the differences expected as (path, kind, cause))
CASES: dict[str, tuple[Callable[[tuple[Spec, ...]], tuple[Spec, ...]], set[tuple[str, str, str]]]] = {
    "timestamp-one": (
        change("demo/names.py", date=(2024, 1, 1, 0, 0, 0)),
        {("demo/names.py", "timestamp", "timestamp")},
    ),
    "timestamp-all": (everyone(date=(2024, 1, 1, 0, 0, 0)), {("", "timestamp", "timestamp")}),
    "mode-only": (change("demo/_build.py", mode=0o664), {("demo/_build.py", "mode", "file_mode")}),
    "order-only": (swap(0, 3), {("", "order", "entry_order")}),
    "compression-method": (
        change("demo/words.txt", compress=zipfile.ZIP_STORED),
        {("demo/words.txt", "compression", "compression")},
    ),
    "compression-level": (change("demo/words.txt", level=1), {("demo/words.txt", "compression", "compression")}),
    "added": (lambda s: (*s, Spec("demo/extra.py", b"X = 1\n")), {("demo/extra.py", "added", "content"), DERIVED}),
    "removed": (lambda s: s[1:], {("demo/__init__.py", "removed", "content"), DERIVED}),
    "build-path": (
        change("demo/_build.py", data=b'BUILD_DIR = "/tmp/build-abc/src"\nDEBUG = False\n'),
        {("demo/_build.py", "content", "build_path"), DERIVED},
    ),
    "hash-seed-ordering": (
        change("demo/names.py", data=b"NAMES = {'gamma', 'alpha', 'beta'}\n"),
        {("demo/names.py", "content", "hash_seed_ordering"), DERIVED},
    ),
    "embedded-date": (
        change("demo/stamp.py", data=b'BUILT = "2025-11-30 08:15:42"\n'),
        {("demo/stamp.py", "content", "timestamp"), DERIVED},
    ),
    "random-bytes": (
        change("demo/blob.bin", data=random.Random(2).randbytes(4096)),
        {("demo/blob.bin", "content", "random_content"), DERIVED},
    ),
    "real-change": (
        change("demo/__init__.py", data=b'"""Demo."""\nVALUE = 2\n'),
        {("demo/__init__.py", "content", "content"), DERIVED},
    ),
    "metadata-field": (
        change(METADATA, data=BASE[6].data.replace(b"idna\n", b"idna\nRequires-Dist: six\n")),
        {(METADATA, "content", "content"), DERIVED},
    ),
    "metadata-order": (
        change(METADATA, data=BASE[6].data.replace(b"attrs\nRequires-Dist: idna", b"idna\nRequires-Dist: attrs")),
        {(METADATA, "content", "hash_seed_ordering"), DERIVED},
    ),
    "entry-point": (
        change(f"{DIST}/entry_points.txt", data=b"[console_scripts]\ndemo = demo:cli\n"),
        {(f"{DIST}/entry_points.txt", "content", "content"), DERIVED},
    ),
    "wheel-generator-path": (
        change(f"{DIST}/WHEEL", data=BASE[7].data.replace(b"-a1/", b"-x1/")),
        {(f"{DIST}/WHEEL", "content", "build_path"), DERIVED},
    ),
}


@pytest.fixture
def wheel_a(tmp_path: Path) -> Path:
    (tmp_path / "a").mkdir()
    return write_wheel(tmp_path / "a" / "demo-1.0-py3-none-any.whl", BASE)


def _wheel_b(tmp_path: Path, specs: tuple[Spec, ...], comment: bytes = b"") -> Path:
    (tmp_path / "b").mkdir(exist_ok=True)
    return write_wheel(tmp_path / "b" / "demo-1.0-py3-none-any.whl", specs, comment)


def _triples(comparison) -> set[tuple[str, str, str | None]]:
    return {(d.path, d.kind, d.cause) for d in comparison.differences}


def test_identical_wheels(wheel_a: Path, tmp_path: Path) -> None:
    b = _wheel_b(tmp_path, BASE)
    comparison = compare_wheels(wheel_a, b)
    assert comparison.identical
    assert comparison.differences == ()
    assert comparison.sha256_a == comparison.sha256_b
    assert comparison.members_a == len(BASE) + 1


@pytest.mark.parametrize("case", list(CASES))
def test_each_change_is_found_and_explained(case: str, wheel_a: Path, tmp_path: Path) -> None:
    mutate, expected = CASES[case]
    b = _wheel_b(tmp_path, mutate(BASE))
    comparison = compare_wheels(wheel_a, b)
    assert not comparison.identical
    assert _triples(comparison) == expected
    assert all(d.cause in CAUSES for d in comparison.differences)


@pytest.mark.parametrize(
    ("case", "path", "needles"),
    [
        ("build-path", "demo/_build.py", ["/tmp/build-xyz/src", "/tmp/build-abc/src", '+BUILD_DIR = "/tmp/build-abc']),
        ("build-path", RECORD, ["demo/_build.py", "derived"]),
        ("metadata-field", METADATA, ["requires-dist", "+'six'"]),
        ("metadata-order", METADATA, ["requires-dist: same values in another order"]),
        ("timestamp-all", "", ["9 of 10 members", "2020-02-02 00:00:00 vs 2024-01-01 00:00:00"]),
        ("mode-only", "demo/_build.py", ["0o100644 vs 0o100664"]),
        ("compression-method", "demo/words.txt", ["deflated vs stored"]),
        ("compression-level", "demo/words.txt", ["level differs"]),
        ("random-bytes", "demo/blob.bin", ["size 4096 (same)", "look random"]),
        ("order-only", "", ["position 0: demo/__init__.py vs demo/stamp.py"]),
        ("entry-point", f"{DIST}/entry_points.txt", ["console_scripts.demo: 'demo:main' -> 'demo:cli'"]),
        ("wheel-generator-path", f"{DIST}/WHEEL", ["generator: 'handmade (/tmp/pip-build-env-a1/lib)' -> 'handmade (/tmp/pip-build-env-x1/lib)'"]),
    ],
)
def test_details_carry_the_evidence(case: str, path: str, needles: list[str], wheel_a: Path, tmp_path: Path) -> None:
    mutate, _ = CASES[case]
    comparison = compare_wheels(wheel_a, _wheel_b(tmp_path, mutate(BASE)))
    (difference,) = [d for d in comparison.differences if d.path == path]
    for needle in needles:
        assert needle in difference.detail


def test_archive_comment_and_unlisted_bytes(wheel_a: Path, tmp_path: Path) -> None:
    comparison = compare_wheels(wheel_a, _wheel_b(tmp_path, BASE, comment=b"built on host x"))
    assert _triples(comparison) == {("", "comment", "zip_metadata")}
    # bytes appended after the archive: zipfile still reads it, only the fallback can say so
    b = _wheel_b(tmp_path, BASE)
    with open(b, "ab") as stream:
        stream.write(b"\x00" * 7)
    comparison = compare_wheels(wheel_a, b)
    assert [(d.kind, d.cause) for d in comparison.differences] == [("archive", "zip_metadata")]
    assert comparison.differences[0].detail.endswith(f"first at offset {wheel_a.stat().st_size}")


def test_explain_limit_lists_the_rest_unexplained(wheel_a: Path, tmp_path: Path) -> None:
    b = _wheel_b(tmp_path, everyone(data=b"changed\n")(BASE))
    comparison = compare_wheels(wheel_a, b, explain_limit=2)
    content = [d for d in comparison.differences if d.kind == "content"]
    assert len(content) == len(BASE) + 1
    assert sum(d.cause is None for d in content) == len(content) - 2
    assert comparison.members_changed == len(BASE) + 1


def test_member_cap_falls_back_to_streaming(wheel_a: Path, tmp_path: Path) -> None:
    mutate, _ = CASES["build-path"]
    comparison = compare_wheels(wheel_a, _wheel_b(tmp_path, mutate(BASE)), member_cap=8)
    (difference,) = [d for d in comparison.differences if d.path == "demo/_build.py"]
    assert difference.cause == "content"
    assert "first difference at offset 24" in difference.detail
    assert "too large" in difference.detail


def test_format_differences_is_short(wheel_a: Path, tmp_path: Path) -> None:
    mutate, _ = CASES["build-path"]
    comparison = compare_wheels(wheel_a, _wheel_b(tmp_path, mutate(BASE)))
    lines = format_differences(comparison.differences, limit=1)
    assert len(lines) == 2
    assert lines[0].startswith("build_path") and "demo/_build.py" in lines[0]
    assert lines[1] == "... and 1 more differences"
    with_excerpt = format_differences(comparison.differences, excerpts=True)
    assert any(line.startswith("    +BUILD_DIR") for line in with_excerpt)


@pytest.mark.parametrize("damage", ["missing", "not-zip", "corrupt-member"])
def test_unreadable_wheels_raise_one_line_errors(damage: str, wheel_a: Path, tmp_path: Path) -> None:
    b = tmp_path / "broken.whl"
    if damage == "not-zip":
        b.write_bytes(b"this is not a zip")
    elif damage == "corrupt-member":
        stored = change("demo/words.txt", compress=zipfile.ZIP_STORED)(BASE)
        write_wheel(b, stored)
        a = write_wheel(tmp_path / "stored.whl", stored)
        data = bytearray(b.read_bytes())
        at = data.index(b"alpha")
        data[at : at + 5] = b"omega"  # same size, CRC no longer matches
        b.write_bytes(bytes(data))
        wheel_a = a
    with pytest.raises(WheelUnreadable) as caught:
        compare_wheels(wheel_a, b)
    assert isinstance(caught.value, PipelineError)
    assert "broken.whl" in str(caught.value) and "\n" not in str(caught.value)


def test_main_diff_exit_codes(wheel_a: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(wheel_a), str(wheel_a)]) == 0
    assert "identical" in capsys.readouterr().out
    b = _wheel_b(tmp_path, CASES["build-path"][0](BASE))
    assert main(["diff", str(wheel_a), str(b), "--excerpts"]) == 1
    out = capsys.readouterr().out
    assert "build_path" in out and "demo/_build.py" in out and "derived" in out
    assert main(["diff", str(wheel_a), str(tmp_path / "nope.whl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diff: error: cannot read wheel") and err.count("\n") == 1
    assert main(["diff", str(wheel_a), str(b), "--json"]) == 1
    assert '"build_path": 1' in capsys.readouterr().out


def test_python_dash_m_runs_the_command(wheel_a: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    b = _wheel_b(tmp_path, CASES["mode-only"][0](BASE))
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "pipeline", "diff", str(wheel_a), str(b)]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "file_mode" in done.stdout


def test_copy_is_identical(wheel_a: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.whl"
    shutil.copy(wheel_a, copy)
    assert compare_wheels(wheel_a, copy).identical


def test_long_lines_are_clipped_around_the_change() -> None:
    from pipeline.explain.explainers.text import LINE_WIDTH, excerpt

    a = "x" * 500 + "A" + "y" * 500 + "\nsame\n"
    b = "x" * 500 + "B" + "y" * 500 + "\nsame\n"
    lines, removed, added = excerpt(a, b)
    assert (removed, added) == (1, 1)
    changed = [line for line in lines if line[:1] in "-+"]
    assert [line[0] for line in changed] == ["-", "+"]
    assert "A" in changed[0] and "B" in changed[1]
    assert all(len(line) <= LINE_WIDTH for line in lines)


def test_stale_record_is_called_out(wheel_a: Path, tmp_path: Path) -> None:
    # B's RECORD is written for a different _build.py than the one B holds
    specs = CASES["build-path"][0](BASE)
    b = _wheel_b(tmp_path, specs)
    with zipfile.ZipFile(b) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    (tmp_path / "c").mkdir()
    c = tmp_path / "c" / b.name
    with zipfile.ZipFile(c, "w") as archive:
        for info, data in members:
            archive.writestr(info, BASE[1].data if info.filename == "demo/_build.py" else data)
    (record,) = [d for d in compare_wheels(wheel_a, c).differences if d.path == RECORD]
    assert record.cause == "derived"
    assert "but the bytes are equal in both archives for demo/_build.py" in record.detail


def test_excerpt_of_a_large_file_starts_at_the_first_change() -> None:
    from pipeline.explain.explainers.text import excerpt

    a = "".join(f"line {i}\n" for i in range(50_000))
    b = a.replace("line 40000\n", "line 40000 changed\n").replace("line 45000\n", "")
    lines, removed, added = excerpt(a, b)
    assert (removed, added) == (2, 1)
    assert lines[:4] == ("@@ -40000,3 +40000,3 @@", " line 39999", "-line 40000", "+line 40000 changed")
    assert lines[-1] == "... (more changes)"  # the removal at 45000 lies outside the window


# -- hostile wheels: nothing past the caps is inflated, and what is within them is still explained --------

BUILD_B = tuple((name, data.replace(b"build-aaa", b"build-bbb")) for name, data in bombs.INNOCENT)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    inner_a = bombs.bomb(folder / "inner-a.zip", 16 * MiB, members=())
    inner_b = bombs.bomb(folder / "inner-b.zip", 16 * MiB, members=(), fill=b"\1")
    return {
        "honest": bombs.wheel(folder / "honest.whl", (*bombs.INNOCENT, ("demo/bomb.bin", bytes(1024)))),
        "bomb": bombs.bomb(folder / "bomb.whl", 32 * MiB, members=BUILD_B),
        "many": bombs.many_members(folder / "many.whl", 200_000),
        "nested-a": bombs.nested(folder / "nested-a.whl", inner_a),
        "nested-b": bombs.nested(folder / "nested-b.whl", inner_b, members=BUILD_B),
    }


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The archives and members zipfile is asked to open, in order."""
    seen: list[str] = []

    class Recording(zipfile.ZipFile):
        def __init__(self, file, *args, **kwargs):
            seen.append(f"archive {Path(file).name}")
            super().__init__(file, *args, **kwargs)

        def open(self, name, *args, **kwargs):
            seen.append(f"member {getattr(name, 'filename', name)}")
            return super().open(name, *args, **kwargs)

    monkeypatch.setattr(zipfile, "ZipFile", Recording)
    return seen


def test_a_bomb_member_is_named_not_inflated_and_the_rest_still_explained(hostile, opened, tmp_path):
    comparison = compare_wheels(hostile["honest"], hostile["bomb"], diffoscope_dir=tmp_path / "reports")
    by_path = {d.path: d for d in comparison.differences if d.kind == "content"}

    assert by_path["demo/_build.py"].cause == "build_path", "the innocent member is explained as ever"
    bomb = by_path["demo/bomb.bin"]
    assert bomb.detail.startswith("not examined: member demo/bomb.bin inflates to 33,554,432 bytes from ")
    assert bomb.detail.endswith(":1, over the 200:1 cap") and bomb.cause is None
    assert "member demo/bomb.bin" not in opened, "its bytes were never inflated"
    assert comparison.diffoscope.html is None
    assert comparison.diffoscope.reason.startswith("diffoscope not run: member demo/bomb.bin inflates to")
    assert not (tmp_path / "reports").exists()


def test_a_wheel_of_200000_members_is_not_compared_member_by_member(hostile, opened, tmp_path):
    started = time.monotonic()
    comparison = compare_wheels(hostile["honest"], hostile["many"], diffoscope_dir=tmp_path / "reports")
    assert time.monotonic() - started < 2
    assert not comparison.identical and comparison.sha256_b == hashlib.sha256(hostile["many"].read_bytes()).hexdigest()
    (difference,) = comparison.differences
    assert (difference.path, difference.kind) == ("", "archive")
    assert difference.detail == ("not compared member by member: B (many.whl) has more than 100,000 members, the cap; "
                                 "nothing inflated")
    assert opened == ["archive honest.whl"], "zipfile never parsed the 200,000 entries"
    assert comparison.diffoscope is None and not (tmp_path / "reports").exists()


def test_a_wheel_over_the_total_inflated_cap_is_not_compared(hostile):
    comparison = compare_wheels(hostile["bomb"], hostile["honest"], limits=ZipLimits(inflated=16 * MiB))
    (difference,) = comparison.differences
    assert difference.detail.startswith("not compared member by member: A (bomb.whl) has 33,55")
    assert "bytes inflated in all, over the 16 MiB cap" in difference.detail


def test_a_bomb_inside_a_member_is_compared_as_bytes_never_opened(hostile, opened):
    comparison = compare_wheels(hostile["nested-a"], hostile["nested-b"])
    by_path = {d.path: d for d in comparison.differences if d.kind == "content"}
    assert by_path["demo/_build.py"].cause == "build_path"
    assert by_path["demo/data/inner.zip"].detail.startswith("binary: size ")
    assert [o for o in opened if o.startswith("archive")] == ["archive nested-a.whl", "archive nested-b.whl"]
