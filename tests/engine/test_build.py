"""One build's pieces that need no sandbox: what the tracker accepts from the pipe a build sends its wheel on."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from pipeline.engine import build
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
