"""The reordered folder (the `file_order` variation) and the domain name, as bubblewrap is asked for them and
as a command in the sandbox sees them."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from pipeline.engine import bwrap, fileorder, sandbox

SPEC = sandbox.Spec(argv=("/usr/bin/python3", "-c", "pass"), env={"PATH": "/usr/bin:/bin"}, cwd="/")


def _launch(**changes) -> sandbox.Launch:
    launch = bwrap.launch(dataclasses.replace(SPEC, **changes), sandbox.Limits())
    launch.cleanup()
    for fd in launch.fds:
        os.close(fd)
    return launch


def _command(argv: list[str]) -> list[str]:
    return argv[argv.index("--") + 1:]


def test_a_plain_spec_gets_no_fuse_device_no_handshake_and_the_hosts_domain():
    argv = _launch().argv

    assert fileorder.FUSE_DEVICE not in argv and "--info-fd" not in argv and fileorder.BACKING not in argv
    assert _command(argv)[0] == "setpriv"


def test_a_reordered_folder_is_made_by_bubblewrap_and_mounted_before_the_uid_drop():
    argv = _launch(reordered="/tmp/wheelrepro/cp311").argv

    assert argv[argv.index("--dev-bind") + 1] == fileorder.FUSE_DEVICE
    assert ["--perms", "1777", "--dir", fileorder.BACKING] == argv[argv.index(fileorder.BACKING) - 3:
                                                                   argv.index(fileorder.BACKING) + 1]
    assert argv[argv.index("/tmp/wheelrepro/cp311") - 1] == "--dir", "the mount point is bubblewrap's, not the build's"
    command = _command(argv)
    assert command[:2] == ["/bin/sh", "-c"] and command.index("setpriv") > 2, "the handshake runs first, as root"


def test_the_domain_name_is_set_as_root_before_the_uid_drop():
    command = _command(_launch(domainname="varied-domain").argv)

    assert command[0:2] == ["/bin/sh", "-c"] and "domainname" in command[2]
    assert command[3] == "varied-domain" and command[4] == "setpriv"


def test_disorderfs_serves_as_the_calling_uid_and_reverses():
    command = fileorder.mount_command(1234, "/tmp/wheelrepro/cp311")

    assert command[:3] == ["nsenter", "--target=1234", "--mount"] and "--pid" in command
    assert "--multi-user=yes" in command and "--reverse-dirents=yes" in command
    assert command[-2:] == [fileorder.BACKING, "/tmp/wheelrepro/cp311"]


def test_the_build_can_neither_open_the_fuse_device_nor_mount(tmp_path):
    if sandbox.sandbox_works() is not None or fileorder.unavailable() is not None:
        pytest.skip("needs bubblewrap and disorderfs")
    code = ("import ctypes, os\n"
            "try:\n    open('/dev/fuse', 'rb')\nexcept PermissionError:\n    print('fuse refused')\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "failed = libc.mount(b'none', b'/tmp/wheelrepro/cp311', b'tmpfs', 0, None) != 0\n"
            "print('mount refused' if failed else 'mounted')\n"
            "print(sorted(os.listdir('/tmp/wheelrepro/cp311')))")
    spec = dataclasses.replace(SPEC, argv=("/usr/bin/python3", "-c", code), reordered="/tmp/wheelrepro/cp311")
    log = tmp_path / "log"
    outcome = sandbox.run(sandbox.BACKENDS["bubblewrap"](), spec, sandbox.Limits(timeout=60), log)

    lines = log.read_text().splitlines()
    assert outcome.returncode == 0, lines
    assert lines[-4:-1] == ["fuse refused", "mount refused", "[]"]
    assert "disorderfs" not in Path("/proc/self/mounts").read_text(), "nothing was mounted on the host"
