"""A cgroup per sandboxed command: memory (every process and the tmpfs pages it writes), pids, CPU weight.

Per-process limits (RLIMIT_AS) let a build hold many times ``--memory`` across processes and its
tmpfs mounts, and a neighbour's hundred spinning sessions can starve it of CPU.  A group per build
bounds the whole build and gives every build the same CPU weight, so a neighbour can neither push
it past its limits nor starve it.

The tracker creates its groups as children of the group it runs in (``wheelrepro-<pid>``, one
child per command), touches no other group, and removes them when done.  cgroup v1 (the cpu,
memory and pids hierarchies) and v2 (with the controllers delegated to our group) both work; where
neither can be used, :func:`support` says why and builds fall back to per-process limits.
"""

from __future__ import annotations

import atexit
import errno
import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass

CONTROLLERS = ("memory", "pids", "cpu")
PREFIX = "wheelrepro-"
_counter = itertools.count()
_lock = threading.Lock()
_support: Support | None = None


@dataclass(frozen=True)
class Support:
    """What this machine allows: ``version`` "v1"/"v2" with our parent group per controller, or None and why."""

    version: str | None
    reason: str
    parents: tuple[tuple[str, str], ...] = ()  # (controller or "unified", our parent group's folder)

    def describe(self) -> str:
        return f"cgroup {self.version}" if self.version else f"no cgroup ({self.reason})"


@dataclass(frozen=True)
class Usage:
    oom_kills: int
    peak: int  # bytes, -1 when the kernel does not say


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _counters(text: str) -> dict[str, int]:
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            found[key] = int(value)
    return found


def _mounts(mountinfo: str) -> list[tuple[str, str, str, set[str]]]:
    """(mount point, root inside the hierarchy, fstype, super options) of every cgroup mount."""
    found = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4], fields[3], tail[0], set(tail[2].split(","))))
    return found


def _membership(text: str) -> dict[str, str]:
    """/proc/self/cgroup -> {controller: path}; the v2 line is keyed "unified"."""
    groups = {}
    for line in text.splitlines():
        number, controllers, path = line.split(":", 2)
        if number == "0" and not controllers:
            groups["unified"] = path
        for name in controllers.split(","):
            if name:
                groups[name] = path
    return groups


def _under(mount_point: str, mount_root: str, path: str) -> str:
    relative = path[len(mount_root):] if mount_root != "/" and path.startswith(mount_root) else path
    return os.path.join(mount_point, relative.lstrip("/"))


def locate(mountinfo: str, membership: str) -> tuple[str | None, dict[str, str], str]:
    """Where the groups we run in live: ("v1"|"v2"|None, {controller or "unified": folder}, why not)."""
    mounts, ours = _mounts(mountinfo), _membership(membership)
    v1 = {}
    for point, root, kind, options in mounts:
        for name in CONTROLLERS:
            if kind == "cgroup" and name in options and name in ours:
                v1[name] = _under(point, root, ours[name])
    if len(v1) == len(CONTROLLERS):
        return "v1", v1, ""
    for point, root, kind, _ in mounts:
        if kind == "cgroup2" and "unified" in ours:
            folder = _under(point, root, ours["unified"])
            available = set(_read(os.path.join(folder, "cgroup.controllers")).split()) if os.path.isdir(folder) else set()
            if set(CONTROLLERS) <= available:
                return "v2", {"unified": folder}, ""
            return None, {}, f"cgroup v2 offers {sorted(available) or 'no controllers'} here, not memory, pids and cpu"
    return None, {}, f"no cgroup hierarchy with {', '.join(CONTROLLERS)} (v1 has {sorted(v1) or 'none'})"


def support() -> Support:
    """Probe once per process: find our groups, make our parent group, prove a child can be made."""
    global _support
    with _lock:
        if _support is None:
            _support = _probe()
        return _support


def _probe() -> Support:
    if os.geteuid() != 0:
        return Support(None, "not running as root")
    try:
        version, groups, why = locate(_read("/proc/self/mountinfo"), _read("/proc/self/cgroup"))
    except OSError as exc:
        return Support(None, f"cannot read the cgroup mounts: {exc}")
    if version is None:
        return Support(None, why)
    parents = []
    try:
        for key, folder in sorted(groups.items()):
            _remove_stale(folder)
            if version == "v2":
                _delegate(folder)
            parent = os.path.join(folder, f"{PREFIX}{os.getpid()}")
            os.makedirs(parent, exist_ok=True)
            parents.append((key, parent))
            if version == "v2":
                _delegate(parent)
        atexit.register(_remove_parents, tuple(p for _, p in parents))
        probe = Support(version, "", tuple(parents))
        BuildGroup.create(probe, memory=64 << 20, pids=8).close()
    except OSError as exc:
        return Support(None, f"cgroup {version} groups cannot be made here ({exc.strerror or exc})")
    return probe


def _delegate(folder: str) -> None:
    """v2: let ``folder``'s children use the controllers (refused while it holds processes: EBUSY)."""
    enabled = set(_read(os.path.join(folder, "cgroup.subtree_control")).split())
    missing = [name for name in CONTROLLERS if name not in enabled]
    if missing:
        _write(os.path.join(folder, "cgroup.subtree_control"), " ".join(f"+{name}" for name in missing))


def _remove_stale(folder: str) -> None:
    """Parents left by tracker processes that died (named by their pid), and their empty children."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not name.startswith(PREFIX) or not name[len(PREFIX):].isdigit():
            continue
        pid = int(name[len(PREFIX):])
        if pid == os.getpid() or os.path.exists(f"/proc/{pid}"):
            continue
        _remove_tree(os.path.join(folder, name))


def _remove_tree(folder: str) -> None:
    try:
        for child in os.listdir(folder):
            if os.path.isdir(os.path.join(folder, child)):
                _remove_tree(os.path.join(folder, child))
        os.rmdir(folder)
    except OSError:
        pass


def _remove_parents(parents: tuple[str, ...]) -> None:
    for parent in parents:
        _remove_tree(parent)


class BuildGroup:
    """One command's group (one folder per v1 hierarchy, or one v2 folder)."""

    def __init__(self, version: str, folders: dict[str, str]) -> None:
        self.version = version
        self.folders = folders
        self._procs = [os.path.join(folder, "cgroup.procs") for folder in folders.values()]

    @classmethod
    def create(cls, where: Support, *, memory: int, pids: int, cpu_weight: int = 100) -> BuildGroup:
        name = f"build-{next(_counter)}"
        folders: dict[str, str] = {}
        group = cls(where.version or "", folders)
        try:
            for key, parent in where.parents:
                folders[key] = os.path.join(parent, name)
                os.mkdir(folders[key])
            group._procs = [os.path.join(folder, "cgroup.procs") for folder in folders.values()]
            if where.version == "v1":
                memory_dir = folders["memory"]
                _write(f"{memory_dir}/memory.limit_in_bytes", str(memory))
                if os.path.exists(f"{memory_dir}/memory.memsw.limit_in_bytes"):
                    _write(f"{memory_dir}/memory.memsw.limit_in_bytes", str(memory))  # no escape into swap
                _write(f"{folders['pids']}/pids.max", str(pids))
                _write(f"{folders['cpu']}/cpu.shares", str(cpu_weight * 1024 // 100))
            else:
                folder = folders["unified"]
                _write(f"{folder}/memory.max", str(memory))
                if os.path.exists(f"{folder}/memory.swap.max"):
                    _write(f"{folder}/memory.swap.max", "0")
                _write(f"{folder}/memory.oom.group", "1")  # an OOM kill ends the whole build, not one worker
                _write(f"{folder}/pids.max", str(pids))
                _write(f"{folder}/cpu.weight", str(cpu_weight))
        except OSError:
            group.close()
            raise
        return group

    def enter(self) -> None:
        """Join the group; runs in the child between fork and exec, so every descendant starts inside."""
        pid = str(os.getpid()).encode()
        for procs in self._procs:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)

    def usage(self) -> Usage:
        try:
            if self.version == "v1":
                memory_dir = self.folders["memory"]
                oom = _counters(_read(f"{memory_dir}/memory.oom_control")).get("oom_kill", 0)
                return Usage(oom, int(_read(f"{memory_dir}/memory.max_usage_in_bytes")))
            folder = self.folders["unified"]
            events = _counters(_read(f"{folder}/memory.events"))
            peak = int(_read(f"{folder}/memory.peak")) if os.path.exists(f"{folder}/memory.peak") else -1
            return Usage(events.get("oom_kill", 0) + events.get("oom_group_kill", 0), peak)
        except (OSError, KeyError, ValueError):
            return Usage(0, -1)

    def kill(self) -> None:
        """Every process in the group, dead (the pid namespace usually got there first)."""
        folder = self.folders.get("unified")
        if folder and os.path.exists(f"{folder}/cgroup.kill"):
            try:
                _write(f"{folder}/cgroup.kill", "1")
                return
            except OSError:
                pass
        procs = os.path.join(self.folders.get("pids") or next(iter(self.folders.values()), ""), "cgroup.procs")
        for _ in range(200):
            try:
                pids = [int(p) for p in _read(procs).split()]
            except OSError:
                return
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def close(self) -> Usage:
        """Read what happened, kill what is left, remove the group."""
        usage = self.usage() if self.folders else Usage(0, -1)
        self.kill()
        for folder in self.folders.values():
            for _ in range(300):  # EBUSY until the killed tasks are reaped
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        break
                    time.sleep(0.01)
        return usage

