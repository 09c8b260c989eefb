"""One build's pieces that need no sandbox: which wheel a build's output folder may give."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pipeline.engine.build import CONTROLLED_ENV, CONTROLS, accept_wheel


def _wheel(folder: Path, name: str) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("demo/__init__.py", "")
    return path


def test_the_one_wheel_of_the_project_is_accepted(tmp_path):
    wheel = _wheel(tmp_path, "demo-1.0-py3-none-any.whl")
    assert accept_wheel(tmp_path, "demo") == (wheel, "")


@pytest.mark.parametrize("make, reason", [
    (lambda d: None, "found 0"),
    (lambda d: (_wheel(d, "demo-1.0-py3-none-any.whl"), _wheel(d, "demo-1.0-py2-none-any.whl")), "found 2"),
    (lambda d: _wheel(d, "other-1.0-py3-none-any.whl"), "is not a wheel of demo"),
    (lambda d: _wheel(d, "demo.whl"), "not a valid wheel file name"),
    (lambda d: (d / "demo-1.0-py3-none-any.whl").write_text("not a zip"), "not a zip archive"),
    (lambda d: (d / "demo-1.0-py3-none-any.whl").symlink_to("/etc/passwd"), "not a regular file"),
])
def test_anything_else_is_refused_with_the_reason(tmp_path, make, reason):
    make(tmp_path)
    wheel, why = accept_wheel(tmp_path, "demo")
    assert wheel is None and reason in why


def test_the_controls_are_recorded_and_all_but_umask_are_variables():
    assert CONTROLS["SOURCE_DATE_EPOCH"] == "315532800" and CONTROLS["umask"] == "022"
    assert set(CONTROLLED_ENV) == set(CONTROLS) - {"umask"}
