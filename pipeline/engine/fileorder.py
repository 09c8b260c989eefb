"""A sandbox folder whose directory entries come back reversed: the `file_order` variation's mechanism.

The folder is a disorderfs (FUSE) view of a backing folder on the sandbox's private /tmp.  The
mount lives only in the sandbox's mount namespace and its daemon only in the sandbox's pid
namespace, so both vanish with the sandbox however it ends (exit, timeout, the tracker killed):
nothing is mounted on the host and nothing needs unmounting there.

bubblewrap makes both folders and reports the sandbox's first pid (``--info-fd``, written before
the sandbox is set up); the command then starts with a handshake (:func:`handshake`) that says
"ready" once the sandbox is complete and waits for "go", so the tracker enters the sandbox's
namespaces (``nsenter``) and starts disorderfs in between: root mounts before any package code
has run, over folders bubblewrap made, and follows nothing a build wrote.  The daemon serves the
build's reads and writes as the calling uid (``--multi-user=yes``), with umask 0 so the build's
own umask decides the modes, and sees only the sandbox's minimal root; it runs in the build's
cgroup (memory, pids), and its backing folder is on the size-capped /tmp, so the caps still hold.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time

from ..errors import SandboxUnavailable
from . import programs

BACKING = "/tmp/.wheelrepro-ordered"  # the real folder under the reversed view, on the private /tmp
FUSE_DEVICE = "/dev/fuse"
MOUNT_SECONDS = 30.0
HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def unavailable() -> str | None:
    """Why no folder can be shown reordered here, or None."""
    if os.geteuid() != 0:
        return "mounting disorderfs in the sandbox needs root"
    if not shutil.which("disorderfs", path=HOST_PATH):
        return "disorderfs is not installed (apt-get install disorderfs)"
    if not shutil.which("nsenter", path=HOST_PATH):
        return "nsenter (util-linux) is not installed"
    if not os.path.exists(FUSE_DEVICE):
        return f"{FUSE_DEVICE} does not exist (no FUSE in this kernel or container)"
    return None


def mount_command(pid: int, folder: str) -> list[str]:
    """Run on the host: disorderfs in the namespaces of the sandbox whose first process is ``pid``."""
    return ["nsenter", f"--target={pid}", "--mount", "--pid", "--",
            "disorderfs", "--multi-user=yes", "--reverse-dirents=yes", "--shuffle-dirents=no", "--quiet",
            "-o", "allow_other", BACKING, folder]


def handshake(ready: int, go: int) -> list[str]:
    """The command's prefix (run as root, before the uid drop): say ready on fd ``ready``, wait for
    "go" on fd ``go``, then run the rest.

    Through /proc/self/fd because dash names only fds 0-9.  The two fds stay open in the build,
    but dead: the tracker has closed its ends by then.
    """
    script = (f'printf r >/proc/self/fd/{ready} && read -r answer </proc/self/fd/{go} && [ "$answer" = go ] '
              f'&& exec "$@"; echo "wheelrepro: the reordered folder was not mounted" >&2; exit 125')
    return ["/bin/sh", "-c", script, "handshake"]


def _wait_readable(fd: int, deadline: float) -> bool:
    ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
    return bool(ready)


def _child_pid(info: int, deadline: float) -> int | None:
    """The sandbox's first pid from bubblewrap's JSON on ``info``, or None if bubblewrap ended first."""
    data = b""
    while time.monotonic() < deadline:
        if not _wait_readable(info, deadline):
            break
        chunk = os.read(info, 4096)
        if not chunk:
            return None
        data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except (ValueError, KeyError, TypeError):
            continue  # not all of it yet
    raise SandboxUnavailable("bubblewrap did not report its sandbox in time to mount disorderfs")


class Mounter:
    """What the tracker does once bubblewrap is started: mount, then let the command run.

    ``info``, ``ready`` and ``go`` are the tracker's ends of the pipes of bubblewrap's --info-fd and
    of :func:`handshake`, closed exactly once (by :meth:`started`, or by :meth:`cleanup` when the
    start failed).  A mount that fails raises: the tracker's failure (``error``), never a build
    that "differs".
    """

    def __init__(self, info: int, ready: int, go: int, folder: str) -> None:
        self.fds, self.folder = (info, ready, go), folder
        self.closed = False

    def started(self, group: object = None) -> None:
        """Mount, then let the command run; disorderfs joins the build's cgroup ``group`` (its memory, its pids)."""
        info, ready, go = self.fds

        def child() -> None:
            if group is not None:
                group.enter()  # type: ignore[attr-defined]
            os.umask(0)  # the build's umask alone decides the modes of what it creates

        try:
            deadline = time.monotonic() + MOUNT_SECONDS
            pid = _child_pid(info, deadline)
            if pid is None or not _wait_readable(ready, deadline) or os.read(ready, 1) != b"r":
                return  # the sandbox ended before its command started: its exit status says so
            done = programs.run(mount_command(pid, self.folder), env={"PATH": HOST_PATH}, capture_output=True,
                                  text=True, timeout=MOUNT_SECONDS, preexec_fn=child)
            if done.returncode != 0:
                raise SandboxUnavailable(f"disorderfs could not mount in the sandbox: {done.stderr.strip()[-300:]}")
            os.write(go, b"go\n")
        except subprocess.TimeoutExpired:
            raise SandboxUnavailable("disorderfs did not mount in time") from None
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        if not self.closed:
            self.closed = True
            for fd in self.fds:
                os.close(fd)
