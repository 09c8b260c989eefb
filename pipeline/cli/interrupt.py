"""Stopping cleanly: Ctrl-C or SIGTERM ends the run with nothing left behind.

Builds run in their own sessions (so a terminal's Ctrl-C does not reach them) on worker threads
that would otherwise finish a half-hour build before the process could exit.  On an interrupt
the command stops its children's process groups, lets every ``with`` block unwind (the temporary
lock folders go with them), and keeps no result made after the interrupt.  The temporary folders
this process makes live in one private folder, removed at the end whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Iterator


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (what nox, CI runners and ``kill`` send) interrupts like Ctrl-C, so clean-up runs."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread (a test calling main() from a worker): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def children(pid: int | None = None) -> list[int]:
    """The processes whose parent is ``pid`` (this process by default), from /proc."""
    pid = os.getpid() if pid is None else pid
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def stop_children() -> int:
    """Kill every child of this process with its process group (builds run in their own); how many."""
    own_group = os.getpgrp()
    stopped = 0
    for child in children():
        try:
            group = os.getpgid(child)
            if group != own_group:
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(child, signal.SIGKILL)
            stopped += 1
        except (ProcessLookupError, PermissionError):
            continue
    return stopped


@contextlib.contextmanager
def private_tempdir() -> Iterator[Path]:
    """Every temporary folder this process makes goes in one folder of its own, removed at the end.

    The folder is searchable (0755) because builds running as another uid read lock files in it.
    """
    folder = Path(tempfile.mkdtemp(prefix="wheelrepro-run-"))
    os.chmod(folder, 0o755)
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(folder, ignore_errors=True)
