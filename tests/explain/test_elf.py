"""The ELF explainer on real shared objects compiled with gcc (skipped when gcc is missing)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from pipeline.explain import compare_wheels
from pipeline.explain.elffile import ELFError, parse

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")

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


def test_source_dir_differs_is_a_build_path(tmp_path: Path) -> None:
    a = compile_so(tmp_path / "build-aaa", "-Wl,--build-id=sha1")
    b = compile_so(tmp_path / "build-bbb", "-Wl,--build-id=sha1")
    difference = so_difference(tmp_path, a, b)
    assert difference.cause == "build_path"
    assert difference.detail.startswith("ELF: sections differ:")
    assert ".debug_" in difference.detail
    assert "build-aaa" in difference.detail and "build-bbb" in difference.detail
    assert "(symptom)" in difference.detail  # the build-id changed too, and is not the cause


def test_debug_prefix_map_differs_is_a_build_path(tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    a = compile_so(source_dir, f"-fdebug-prefix-map={source_dir}=/build/one")
    a = a.rename(tmp_path / "a.so")
    b = compile_so(source_dir, f"-fdebug-prefix-map={source_dir}=/build/two")
    difference = so_difference(tmp_path, a, b)
    assert difference.cause == "build_path"
    assert "/build/one" in difference.detail and "/build/two" in difference.detail


def test_only_the_build_id_differs(tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    a = compile_so(source_dir, "-Wl,--build-id=uuid").rename(tmp_path / "a.so")
    b = compile_so(source_dir, "-Wl,--build-id=uuid")
    difference = so_difference(tmp_path, a, b)
    assert difference.cause == "build_id"
    assert difference.detail.startswith("ELF: build-id ")
    assert difference.detail.endswith("(nothing else differs)")


def test_code_change_is_content(tmp_path: Path) -> None:
    source_dir = tmp_path / "src"
    a = compile_so(source_dir, "-g0").rename(tmp_path / "a.so")
    b = compile_so(source_dir, "-g0", source=SOURCE.replace("3 * x", "x + 7"))
    difference = so_difference(tmp_path, a, b)
    assert difference.cause == "content"
    assert ".text" in difference.detail


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


def test_truncated_elf_falls_back_to_binary(tmp_path: Path) -> None:
    so = compile_so(tmp_path / "src")
    head = so.read_bytes()[:2000]
    (tmp_path / "a.so").write_bytes(head)
    (tmp_path / "b.so").write_bytes(head[:1999] + b"\x01")
    difference = so_difference(tmp_path, tmp_path / "a.so", tmp_path / "b.so")
    assert difference.detail.startswith("binary: size 2000 (same), first difference at offset 1999")
