"""Stopping cleanly: children in their own sessions are stopped, the private temporary folder goes."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from pipeline.cli.interrupt import children, private_tempdir, stop_children


def test_children_in_their_own_sessions_are_stopped():
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        assert proc.pid in children()
        assert stop_children() >= 1
        assert proc.wait(timeout=10) == -9
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_private_temporary_folder_holds_every_temporary_folder_and_goes_at_the_end(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with private_tempdir() as folder:
        assert folder.parent == tmp_path and oct(folder.stat().st_mode & 0o777) == "0o755"
        made = Path(tempfile.mkdtemp(prefix="wheelrepro-lock-"))
        assert made.parent == folder
    assert tempfile.tempdir == str(tmp_path)
    assert not folder.exists() and list(tmp_path.iterdir()) == []
