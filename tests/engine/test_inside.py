"""The helper that runs inside the sandbox, run here on the host: unpack, run, answer through the pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

from pipeline.engine import layout
from tests.sdists import intree_sdist


def _helper(tmp_path, *args: str, channel: bool = True) -> tuple[subprocess.CompletedProcess, bytes]:
    read, write = os.pipe()
    env = {"PATH": os.environ["PATH"], "WHEELREPRO_CHANNEL": str(write)} if channel else {"PATH": os.environ["PATH"]}
    proc = subprocess.run([sys.executable, "-I", "-S", str(layout.HELPER_SOURCE), *args], capture_output=True,
                          pass_fds=(write,), env=env, cwd=tmp_path)
    os.close(write)
    with os.fdopen(read, "rb") as stream:
        return proc, stream.read()


def test_it_unpacks_the_sdist_at_exactly_the_build_path(tmp_path):
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(intree_sdist("demo", "1.0"))
    into = tmp_path / "tree" / "cp312" / "demo-1.0"
    proc, _ = _helper(tmp_path, "--unpack", str(sdist), "--into", str(into), "--", "ls")
    assert proc.returncode == 0 and sorted(os.listdir(into)) == ["PKG-INFO", "backend.py", "pyproject.toml"]
    assert b"backend.py" in proc.stdout and not (tmp_path / "tree" / "cp312" / "demo-1.0.unpack").exists()


def test_the_childs_output_can_go_to_the_channel_and_the_channel_is_not_inherited_otherwise(tmp_path):
    proc, sent = _helper(tmp_path, "--stdout-to-channel", "--", "echo", "answer")
    assert proc.returncode == 0 and sent == b"answer\n" and b"answer" not in proc.stdout
    code = "import os; print(os.environ.get('WHEELREPRO_CHANNEL'))"
    proc, sent = _helper(tmp_path, "--", sys.executable, "-c", code)
    assert proc.stdout.strip() == b"None" and sent == b""


def test_it_sends_the_one_wheel_with_a_header_and_never_through_a_link(tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    with zipfile.ZipFile(dist / "demo-1.0-py3-none-any.whl", "w") as archive:
        archive.writestr("demo/__init__.py", "")
    proc, sent = _helper(tmp_path, "--dist", str(dist), "--send-wheel", "--", "true")
    header, _, body = sent.partition(b"\n")
    assert json.loads(header)["wheel"] == "demo-1.0-py3-none-any.whl" and body == (dist / "demo-1.0-py3-none-any.whl").read_bytes()
    (dist / "demo-1.0-py3-none-any.whl").unlink()
    (dist / "demo-1.0-py3-none-any.whl").symlink_to("/etc/passwd")
    proc, sent = _helper(tmp_path, "--dist", str(dist), "--send-wheel", "--", "true")
    assert json.loads(sent) == {"error": "demo-1.0-py3-none-any.whl is not a regular file"}


def test_a_failed_build_sends_nothing_and_its_status_is_the_helpers(tmp_path):
    (tmp_path / "dist").mkdir()
    proc, sent = _helper(tmp_path, "--dist", str(tmp_path / "dist"), "--send-wheel", "--", "false")
    assert proc.returncode == 1 and sent == b""


def test_a_broken_archive_is_its_own_exit_status(tmp_path):
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(b"not a tarball")
    proc, _ = _helper(tmp_path, "--unpack", str(sdist), "--into", str(tmp_path / "x"), "--", "true")
    assert proc.returncode == 125 and b"cannot unpack" in proc.stderr


def test_commands_joined_by_then_run_in_order_up_to_the_first_failure(tmp_path):
    proc, _ = _helper(tmp_path, "--", "echo", "one", "--then", "false", "--then", "echo", "three")
    assert proc.returncode == 1 and proc.stdout == b"one\n"
    proc, _ = _helper(tmp_path, "--", "echo", "one", "--then", "echo", "two")
    assert proc.returncode == 0 and proc.stdout == b"one\ntwo\n"
