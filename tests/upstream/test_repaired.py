"""What auditwheel did to a published wheel, read off the wheel: vendored libraries, RPATHs, nothing."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile

import pytest

from pipeline.upstream.repaired import Repair, inspect_repaired, repair_words


@pytest.fixture(scope="module")
def shared_objects(tmp_path_factory):
    """Two real shared objects from the system compiler: one with a RUNPATH, one without."""
    if not shutil.which("cc"):
        pytest.fail("needs a C compiler (cc), as the C-extension fixtures do")
    folder = tmp_path_factory.mktemp("elf")
    (folder / "x.c").write_text("int answer(void) { return 42; }\n")
    built = {}
    for name, flags in (("plain", []), ("rpath", ["-Wl,-rpath,$ORIGIN/../cpkg.libs", "-Wl,--enable-new-dtags"])):
        out = folder / f"{name}.so"
        subprocess.run(["cc", "-shared", "-fPIC", "-o", str(out), str(folder / "x.c"), *flags], check=True)
        built[name] = out.read_bytes()
    return built


def _wheel(tmp_path, members: dict[str, bytes]):
    path = tmp_path / "cpkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def test_a_wheel_only_retagged_says_so(tmp_path, shared_objects):
    repair = inspect_repaired(_wheel(tmp_path, {"cpkg/_x.cpython-311-x86_64-linux-gnu.so": shared_objects["plain"]}))
    assert repair == Repair((), (), 1)
    assert repair_words(repair) == "no vendored libraries and no RPATH: only retagged"


def test_vendored_libraries_and_the_runpath_pointing_at_them_are_named(tmp_path, shared_objects):
    repair = inspect_repaired(_wheel(tmp_path, {
        "cpkg/_x.cpython-311-x86_64-linux-gnu.so": shared_objects["rpath"],
        "cpkg/_y.cpython-311-x86_64-linux-gnu.so": shared_objects["plain"],
        "cpkg.libs/libfoo-1a2b3c.so.1.2": shared_objects["plain"],
        "cpkg/__init__.py": b"",
    }))
    assert repair.vendored == ("cpkg.libs/libfoo-1a2b3c.so.1.2",) and repair.compiled == 3
    assert repair.rpaths == (("cpkg/_x.cpython-311-x86_64-linux-gnu.so", "$ORIGIN/../cpkg.libs"),)
    assert repair_words(repair) == "1 vendored library in cpkg.libs/; RPATH $ORIGIN/../cpkg.libs on 1 extension module"


def test_a_file_named_like_a_library_that_is_not_elf_is_counted_not_parsed(tmp_path):
    repair = inspect_repaired(_wheel(tmp_path, {"cpkg/_x.so": b"\x7fELF but truncated", "cpkg/y.so": b"MZ"}))
    assert repair == Repair((), (), 2)
