"""Terminal injection: what a package names (members, its wheel's build tag, its file name) reaches the
terminal inert, so it can neither clear the screen, retitle the window, nor forge a row of the table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sdists import PYPROJECT_INTREE, _tar

#: every control character but the newline the tool itself ends its lines with, and the bidi overrides
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FORGED = "evil 9.9 3.12.1 ok   reproducible"

# An in-tree backend whose wheel has members named with escapes and newlines (with random
# content, so they are listed as differences) and a build tag carrying escapes.
BACKEND = r'''
import os, zipfile

FORGED = %r

def get_requires_for_build_wheel(config_settings=None):
    return []

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "hostpkg-1.0-1\x1b[2J\x1b]0;owned\x07-py3-none-any.whl"
    members = {
        "hostpkg/__init__.py": "",
        "hostpkg/\x1b[2J\n" + FORGED + ".py": os.urandom(8).hex(),
        "hostpkg/\x1b]0;pwned\x07\u202eyp.txt": os.urandom(8).hex(),
        "hostpkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: hostpkg\nVersion: 1.0\n",
        "hostpkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: x\x1b[31m\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "hostpkg-1.0.dist-info/RECORD": "",
    }
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, text in members.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, text)
    return name
''' % FORGED


def hostile_names_sdist() -> bytes:
    top = "hostpkg-1.0"
    return _tar({f"{top}/pyproject.toml": PYPROJECT_INTREE.format(name="hostpkg", version="1.0").encode(),
                 f"{top}/backend.py": BACKEND.encode(),
                 f"{top}/PKG-INFO": b"Metadata-Version: 2.1\nName: hostpkg\nVersion: 1.0\n"})


def _assert_inert(text: str) -> None:
    found = CONTROL.search(text)
    assert not found, f"a control character reached the terminal: {found.group()!r} in ...{text[max(0, found.start() - 80):found.end() + 40]!r}"
    assert not any(line.lstrip().startswith("evil") for line in text.splitlines()), "a forged row"


@pytest.mark.slow
def test_hostile_names_reach_the_terminal_escaped(index, tmp_path, shared_out, wheelhouse, sandboxed):
    index.add("hostpkg", "hostpkg-1.0.tar.gz", hostile_names_sdist())
    evil_local = tmp_path / "evil\x1b[2J-1.0.tar.gz"
    evil_local.write_bytes(hostile_names_sdist())
    house = tmp_path / "house"
    command = [sys.executable, "-m", "pipeline", "check", "hostpkg", str(evil_local), "--python", "3.11",
               "--index-url", index.url, "--find-links", str(wheelhouse), "--out", str(shared_out), "-v",
               "--wheelhouse", str(house), "--include-unreproducible", *([] if sandboxed else ["--unsandboxed"])]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)

    assert proc.returncode == 1, proc.stderr
    _assert_inert(proc.stdout)
    _assert_inert(proc.stderr)
    assert "hostpkg/\\x1b[2J\\nevil 9.9" in proc.stdout, "the member is shown, escaped"
    assert "hostpkg-1.0-1\\x1b[2J\\x1b]0;owned\\x07-py3-none-any.whl" in proc.stdout + proc.stderr
    assert "refused: " in proc.stderr and "evil\\x1b[2J-1.0.tar.gz" in proc.stderr
    assert "is not a valid project name" in proc.stderr
    assert "left out hostpkg-1.0-1\\x1b[2J" in proc.stderr and "not a safe wheel name" in proc.stderr
    assert sorted(p.name for p in house.iterdir()) == ["SHA256SUMS"] and (house / "SHA256SUMS").read_text() == ""

    kept = shared_out / "builds" / "hostpkg" / "1.0" / "cp311"
    wheels = [next((kept / label).glob("*.whl")) for label in ("1", "2")]
    diff = subprocess.run([sys.executable, "-m", "pipeline", "diff", *map(str, wheels), "--excerpts"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert diff.returncode == 1, diff.stderr
    _assert_inert(diff.stdout + diff.stderr)
    assert "\\x1b]0;pwned\\x07\\u202eyp.txt" in diff.stdout
    assert os.path.basename(str(wheels[0])).startswith("hostpkg-1.0-1\x1b")
    assert Path(wheels[0]).is_file()
