"""The ELF explainer on real shared objects compiled with gcc (skipped when gcc is missing), and on
hand-made hostile ones: compressed-section bombs, sections by the hundred thousand."""

from __future__ import annotations

import shutil
import struct
import subprocess
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from pipeline.explain import compare_wheels
from pipeline.explain.elffile import INFLATE_BUDGET, SHF_COMPRESSED, ELFError, parse

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")

SOURCE = 'int triple(int x) { return 3 * x; }\nconst char *where(void) { return "built"; }\n'
SO = "demo/_speedups.so"


def compile_so(directory: Path, *flags: str, source: str = SOURCE) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "mod.c").write_text(source)
    out = directory / "mod.so"
    # an absolute source path, as pip and setuptools pass it: it lands in the debug info
    command = ["gcc", "-g", "-O1", "-shared", "-fPIC", *flags, "-o", str(out), str(directory / "mod.c")]
    subprocess.run(command, cwd=directory, check=True, capture_output=True)
    return out


def wheel_with(path: Path, so: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("demo/__init__.py", (2020, 1, 1, 0, 0, 0)), b"")
        archive.writestr(zipfile.ZipInfo(SO, (2020, 1, 1, 0, 0, 0)), so.read_bytes())
    return path


def so_difference(tmp_path: Path, so_a: Path, so_b: Path):
    comparison = compare_wheels(wheel_with(tmp_path / "a.whl", so_a), wheel_with(tmp_path / "b.whl", so_b))
    (difference,) = [d for d in comparison.differences if d.path == SO]
    return difference


@needs_gcc
def test_source_dir_differs_is_a_build_path(tmp_path: Path) -> None:
    a = compile_so(tmp_path / "build-aaa", "-Wl,--build-id=sha1")
    b = compile_so(tmp_path / "build-bbb", "-Wl,--build-id=sha1")
    difference = so_difference(tmp_path, a, b)
    assert difference.cause == "build_path"
    assert difference.detail.startswith("ELF: sections differ:")
    assert ".debug_" in difference.detail
    assert "build-aaa" in difference.detail and "build-bbb" in difference.detail
    assert "(symptom)" in difference.detail  # the build-id changed too, and is not the cause


@needs_gcc
def test_debug_prefix_map_differs_is_a_build_path(tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    a = compile_so(source_dir, f"-fdebug-prefix-map={source_dir}=/build/one")
    a = a.rename(tmp_path / "a.so")
    b = compile_so(source_dir, f"-fdebug-prefix-map={source_dir}=/build/two")
    difference = so_difference(tmp_path, a, b)
    assert difference.cause == "build_path"
    assert "/build/one" in difference.detail and "/build/two" in difference.detail


@needs_gcc
def test_only_the_build_id_differs(tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    a = compile_so(source_dir, "-Wl,--build-id=uuid").rename(tmp_path / "a.so")
    b = compile_so(source_dir, "-Wl,--build-id=uuid")
    difference = so_difference(tmp_path, a, b)
    assert difference.cause == "build_id"
    assert difference.detail.startswith("ELF: build-id ")
    assert difference.detail.endswith("(nothing else differs)")


@needs_gcc
def test_code_change_is_content(tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    a = compile_so(source_dir, "-g0").rename(tmp_path / "a.so")
    b = compile_so(source_dir, "-g0", source=SOURCE.replace("3 * x", "x + 7"))
    difference = so_difference(tmp_path, a, b)
    assert difference.cause == "content"
    assert ".text" in difference.detail


@needs_gcc
def test_parser_agrees_with_readelf(tmp_path: Path) -> None:
    so = compile_so(tmp_path / "src", "-Wl,--build-id=sha1")
    elf = parse(so.read_bytes())
    assert elf.bits == 64 and elf.endian == "<"
    assert len(elf.build_id() or "") == 40
    if shutil.which("readelf"):
        listing = subprocess.run(["readelf", "-SW", str(so)], capture_output=True, text=True, check=True).stdout
        for section in elf.sections[1:]:
            assert f" {section.name} " in listing


#: too short; section headers far past the end (e_shoff = 2**64 - 1); not ELF at all
MALFORMED = [b"\x7fELF", b"\x7fELF\x02\x01" + b"\x00" * 34 + b"\xff" * 8 + b"\x00" * 16, b"MZ" + b"\x00" * 80]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_elf_is_refused(data: bytes) -> None:
    with pytest.raises(ELFError):
        parse(data)


@needs_gcc
def test_truncated_elf_falls_back_to_binary(tmp_path: Path) -> None:
    so = compile_so(tmp_path / "src")
    head = so.read_bytes()[:2000]
    (tmp_path / "a.so").write_bytes(head)
    (tmp_path / "b.so").write_bytes(head[:1999] + b"\x01")
    difference = so_difference(tmp_path, tmp_path / "a.so", tmp_path / "b.so")
    assert difference.detail.startswith("binary: size 2000 (same), first difference at offset 1999")


# -- hostile ELF files, made by hand ----------------------------------------------------------------------


def hostile_elf(blobs: list[bytes], name: bytes = b".zdebug_bomb", flags: int = SHF_COMPRESSED,
                shared: bool = False) -> bytes:
    """An ELF64 with one section per blob, all named ``name``, each a compressed section whose
    header claims a TiB; with ``shared``, every section points at the first blob's bytes."""
    names = b"\x00.shstrtab\x00" + name + b"\x00"
    chdr = struct.pack("<IIQQ", 1, 0, 1 << 40, 1) if flags & SHF_COMPRESSED else b""
    body, where = bytearray(names), []
    for blob in blobs[:1] if shared else blobs:
        where.append((64 + len(body), len(chdr) + len(blob)))
        body += chdr + blob
    count = len(blobs) + 2
    shoff = 64 + len(body)
    # over 0xff00 sections, e_shnum is 0 and section 0's size holds the count
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack(
        "<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64, count if count < 0xFF00 else 0, 1)
    entry = struct.Struct("<IIQQQQIIQQ")
    table = [entry.pack(0, 0, 0, 0, 0, count if count >= 0xFF00 else 0, 0, 0, 0, 0),
             entry.pack(1, 3, 0, 0, 64, len(names), 0, 0, 1, 0)]
    for i in range(len(blobs)):
        offset, size = where[0 if shared else i]
        table.append(entry.pack(11, 1, flags, 0, offset, size, 0, 0, 1, 0))
    return header + bytes(body) + b"".join(table)


def deflated(n: int, fill: bytes = b"\0") -> bytes:
    return zlib.compress(fill * n, 9)


def test_compressed_sections_inflate_within_one_budget_per_file():
    blob = deflated(4 << 20)
    elf = parse(hostile_elf([blob] * 100))  # 100 x 4 MiB of zeros from 400 KiB
    started = time.monotonic()
    data, capped = elf.contents(list(elf.by_name().values())[2:])
    assert capped and len(data) <= INFLATE_BUDGET + 100 * (len(blob) + 25)
    assert time.monotonic() - started < 5


@pytest.mark.slow  # inflates the whole 64 MiB budget on each side
def test_an_elf_bomb_member_is_explained_within_the_budget_and_says_so(tmp_path):
    a, b = hostile_elf([deflated(4 << 20)] * 40), hostile_elf([deflated(4 << 20, b"\1")] * 40)
    difference = so_difference(tmp_path, _file(tmp_path / "a.so", a), _file(tmp_path / "b.so", b))
    assert difference.detail.startswith("ELF: sections differ: .zdebug_bomb, .zdebug_bomb#2")
    assert "compressed sections past 64 MiB inflated were searched as stored" in difference.detail


def test_sections_sharing_bytes_are_refused_as_overlapping():
    with pytest.raises(ELFError, match="sections overlap"):
        parse(hostile_elf([deflated(4 << 20)] * 1000, shared=True))  # 4 GiB of zeros from one 4 KiB stream


def test_many_sections_alike_cost_linear_time_and_too_many_are_refused():
    elf = parse(hostile_elf([b"x"] * 20_000, flags=0))
    started = time.monotonic()
    named = elf.by_name()
    assert len(named) == 20_002 and ".zdebug_bomb#20000" in named
    assert time.monotonic() - started < 1, "not quadratic in the number of same-named sections"
    with pytest.raises(ELFError, match="more than 100,000 sections"):
        parse(hostile_elf([b"x"] * 100_000, flags=0))


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
