"""One build: what the tracker accepts from the pipe a build sends its wheel on, and the same bytes from anywhere."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from pipeline.engine import build, sandbox
from pipeline.engine.build import CONTROLLED_ENV, CONTROLS, check_wheel_name, receive_wheel


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo/__init__.py", "")
    return buffer.getvalue()


def _sent(header, body: bytes = b"") -> io.BytesIO:
    head = header if isinstance(header, bytes) else json.dumps(header).encode() + b"\n"
    return io.BytesIO(head + body)


def test_the_wheel_of_the_project_is_kept_with_its_digest(tmp_path):
    data = _zip()
    path, sha, why = receive_wheel(_sent({"wheel": "demo-1.0-py3-none-any.whl"}, data), tmp_path, "demo")
    assert why == "" and path == tmp_path / "demo-1.0-py3-none-any.whl" and path.read_bytes() == data
    import hashlib
    assert sha == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("header, body, reason", [
    (b"", b"", "sent no wheel"),
    (b"not json\n", b"", "unreadable header"),
    (b"[1]\n", b"", "unreadable header"),
    ({"error": "expected one wheel in the output, found 2"}, b"", "found 2"),
    ({"wheel": "other-1.0-py3-none-any.whl"}, _zip(), "is not a wheel of demo"),
    ({"wheel": "demo.whl"}, _zip(), "not a valid wheel file name"),
    ({"wheel": "../../etc/demo-1.0-py3-none-any.whl"}, _zip(), "named no wheel file"),
    ({"wheel": "demo-1.0.tar.gz"}, _zip(), "is not a wheel"),
    ({"wheel": "demo-1.0-py3-none-any.whl"}, b"not a zip", "not a zip archive"),
    (b"x" * 10000, b"", "sent no wheel"),
])
def test_anything_else_is_refused_with_the_reason_and_nothing_is_kept(tmp_path, header, body, reason):
    path, sha, why = receive_wheel(_sent(header, body), tmp_path, "demo")
    assert path is None and sha is None and reason in why
    assert list(tmp_path.iterdir()) == []


def test_a_wheel_over_the_cap_is_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "MAX_WHEEL_BYTES", 100)
    path, _, why = receive_wheel(_sent({"wheel": "demo-1.0-py3-none-any.whl"}, _zip() * 10), tmp_path, "demo")
    assert path is None and "over the 100 byte cap" in why and list(tmp_path.iterdir()) == []


def test_a_link_planted_where_the_wheel_goes_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("root's")
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "demo-1.0-py3-none-any.whl").symlink_to(victim)
    path, _, why = receive_wheel(_sent({"wheel": "demo-1.0-py3-none-any.whl"}, _zip()), keep, "demo")
    assert why == "" and not path.is_symlink() and victim.read_text() == "root's"


@pytest.mark.parametrize("name", [None, 3, "", ".", "a/b.whl", "x\0.whl"])
def test_names_that_are_not_file_names_are_refused(name):
    assert check_wheel_name(name, "demo")


def test_the_controls_are_recorded_and_all_but_umask_are_variables():
    assert CONTROLS["SOURCE_DATE_EPOCH"] == "315532800" and CONTROLS["umask"] == "022"
    assert set(CONTROLLED_ENV) == set(CONTROLS) - {"umask"}


def test_builds_see_the_venv_and_home_at_constant_paths():
    settings = build.BuildSettings(build_dir=Path("/tmp/wheelrepro/cp312/demo-1.0"))
    from pipeline.engine import layout
    view = layout.PythonView("cp312", "3.12", "/root/.pyenv/versions/3.12.1", "/opt/python/cp312",
                             "/opt/python/cp312/bin/python3.12", "/x", env={"LD_LIBRARY_PATH": "/opt/python/cp312/lib"})
    env = build._env(settings, view)
    assert env["PATH"].startswith("/opt/venv/bin:") and env["HOME"] == "/tmp/home" and env["TMPDIR"] == "/tmp"
    assert env["LD_LIBRARY_PATH"] == "/opt/python/cp312/lib"
    assert not any("/root" in value or "/work" in value for value in env.values())


# -- the same bytes from another --out, working folder and checkout ---------------------------------

HEADER_USER_SETUP = """\
import hdrreq
from setuptools import Extension, setup

setup(ext_modules=[Extension("hdrext._ext", ["src/ext.c"], include_dirs=[hdrreq.get_include()])],
      packages=["hdrext"], package_dir={"": "src"})
"""
HEADER_USER_C = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "hdrreq.h"

static PyObject *twice(PyObject *self, PyObject *arg) { return PyLong_FromLong(hdr_twice(PyLong_AsLong(arg))); }
static PyMethodDef methods[] = {{"twice", twice, METH_O, "Twice."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, methods};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
"""


def _header_wheel(folder: Path) -> Path:
    """A build requirement that installs a C header into the venv and says where (pybind11-style)."""
    import base64
    import hashlib

    files = {
        "hdrreq/__init__.py": "import os\n\ndef get_include():\n    return os.path.join(os.path.dirname(__file__), 'include')\n",
        "hdrreq/include/hdrreq.h": "static inline long hdr_twice(long x) { return 2 * x; }\n",
        "hdrreq-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: hdrreq\nVersion: 1.0\n",
        "hdrreq-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(t.encode())}" for p, t in files.items()]
    files["hdrreq-1.0.dist-info/RECORD"] = "\n".join(record + ["hdrreq-1.0.dist-info/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hdrreq-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), text)
    return path


@pytest.mark.slow
@pytest.mark.skipif(sandbox.sandbox_works() is not None, reason="needs the sandbox")
def test_a_c_extension_using_a_venv_header_is_the_same_from_any_out_folder_and_checkout(tmp_path, wheelhouse,
                                                                                         interpreters):
    import shutil
    import subprocess
    import sys

    from pipeline.engine.check import Checker, CheckOptions
    from tests.sdists import _tar

    links = tmp_path / "links"
    _header_wheel(links)
    sdist = tmp_path / "hdrext-1.0.tar.gz"
    sdist.write_bytes(_tar({
        "hdrext-1.0/pyproject.toml": b'[build-system]\nrequires = ["setuptools", "hdrreq"]\n'
                                     b'build-backend = "setuptools.build_meta"\n\n[project]\nname = "hdrext"\nversion = "1.0"\n',
        "hdrext-1.0/setup.py": HEADER_USER_SETUP.encode(),
        "hdrext-1.0/src/hdrext/__init__.py": b"from ._ext import twice\n",
        "hdrext-1.0/src/ext.c": HEADER_USER_C.encode(),
    }))
    python = interpreters.get("3.11") or next(iter(interpreters.values()))
    sources = (str(wheelhouse), str(links))
    (tmp_path / "none").mkdir()  # an empty index: every requirement comes from the two folders

    checker = Checker(CheckOptions(out=tmp_path / "a" / "out", index_url=(tmp_path / "none").as_uri(),
                                   find_links=sources, timeout=300.0, upstream=False))
    first = checker.check(checker.target(str(sdist)), python)
    assert first.status == "reproducible", first.message

    # another checkout of the tool, run from another folder, writing to a deeper --out
    checkout = tmp_path / "elsewhere" / "second-checkout"
    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "pipeline", checkout / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "environments", checkout / "environments")
    report = tmp_path / "second.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "check", str(sdist), "--python", python.minor, "--out",
         str(tmp_path / "b" / "much" / "deeper" / "out"), "--index-url", (tmp_path / "none").as_uri(),
         *(arg for link in sources for arg in ("--find-links", link)), "--no-upstream", "--json", str(report)],
        cwd=tmp_path / "elsewhere", env={**os.environ, "PYTHONPATH": str(checkout)}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    second = json.loads(report.read_text())
    second = second["results"][0] if isinstance(second, dict) else second[0]

    assert second["builds"][0]["sha256"] == first.builds[0].sha256, "another --out, folder or checkout: other bytes"
    assert any(line.startswith("hdrreq==1.0 ") for line in first.environment.requirements)
    with zipfile.ZipFile(first.builds[0].path) as archive:
        binary = archive.read(next(n for n in archive.namelist() if n.endswith(".so")))
    assert b"/opt/venv/lib/" in binary, "the header's path in the debug info is the venv's constant one"
    assert str(tmp_path).encode() not in binary and b"/root/.pyenv" not in binary
