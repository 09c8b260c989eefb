"""Run untrusted code confined: bubblewrap on a minimal root, an unprivileged uid, a cgroup, seccomp, caps.

Every command that runs code from a package, or reads what a package wrote, goes through :func:`run`:
resolving and installing build requirements (no package code runs there, but the network is on),
the build-requirement hook and the builds.  What a command sees is described by a :class:`Spec` in
in-sandbox paths (see :mod:`.layout`); :mod:`.bwrap` turns it into the bubblewrap command line.
Nothing a build can write is on the host: its tree, /tmp, /var/tmp and /dev/shm are size-capped
tmpfs mounts that vanish with it, and what the tracker needs back comes through a pipe (fd 3).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Mapping, Sequence

from ..errors import SandboxUnavailable
from . import cgroups, layout, programs

#: builds run as uids from a pool no account uses, one uid per check at a time (the `user` variation
#: runs as the lease's twin, uid + UID_POOL); the cgroup per build, not the uid, is what confines it
UID_BASE = 1_000_000_000
UID_POOL = 64
BUILD_UID = UID_BASE
UID_LOCKS = Path("/tmp/wheelrepro/.uids")
GiB = 1024**3
MiB = 1024**2
CHANNEL_VARIABLE = "WHEELREPRO_CHANNEL"  # names the fd a sandboxed command sends its answer on (see inside.py)


@dataclass(frozen=True)
class Mount:
    """``path`` (host) is visible in the sandbox at ``target`` (default: the same path); writable only when asked."""

    path: str
    writable: bool = False
    target: str | None = None

    @property
    def inside(self) -> str:
        return self.target or self.path


@dataclass(frozen=True)
class Tmpfs:
    """A private, size-capped tmpfs at ``path`` in the sandbox, gone when the command ends."""

    path: str
    size: int
    mode: int = 0o1777


@dataclass(frozen=True)
class Limits:
    timeout: float = 1800.0
    memory: int = 8 * GiB  # the whole build (processes and tmpfs) with a cgroup; each process without
    processes: int = 512  # per build (pids cgroup; per uid without)
    file_size: int = 2 * GiB  # largest single file a build may write
    tmp_size: int = 8 * GiB  # the private /tmp, which holds the build tree
    shm_size: int = 1 * GiB  # /dev/shm and /var/tmp, each
    log_bytes: int = 8 * MiB  # the rest of the output is dropped, with a marker
    cpu_weight: int = 100  # every build the same share of the CPU when they compete


@dataclass(frozen=True)
class Spec:
    """What to run and the world it sees, in in-sandbox paths."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: str
    mounts: tuple[Mount, ...] = ()
    network: bool = False
    hostname: str = "builder"
    umask: int = 0o022
    uid: int = BUILD_UID
    user: str = "builder"
    cpus: frozenset[int] | None = None
    dirs: tuple[str, ...] = field(default=())  # empty folders the uid may write, made inside the private /tmp
    tmpfs: tuple[Tmpfs, ...] = ()  # more private, capped tmpfs mounts (e.g. CARGO_HOME for a build)
    domainname: str | None = None  # the NIS domain name of the sandbox's UTS namespace (default: the host's)
    reordered: str | None = None  # a folder whose directory entries the command sees reversed (see fileorder.py)


@dataclass(frozen=True)
class Outcome:
    returncode: int | None
    timed_out: bool
    seconds: float
    log_truncated: bool
    oom: bool = False  # the kernel killed a process of it for memory (only known with a cgroup)
    received: object = None  # what ``receive`` made of the channel
    confinement: str = ""  # e.g. "cgroup v1", or why per-process limits were used instead


@dataclass(frozen=True)
class Launch:
    """How a backend starts one spec: the host argv, environment, folder and fds to pass."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    fds: tuple[int, ...] = ()
    cleanup: Callable[[], None] = lambda: None
    #: once the command is started (it may wait for this), given the build's cgroup (or None) to join
    started: Callable[[object], None] = lambda group: None


@dataclass(frozen=True)
class Backend:
    """A way to confine a command: ``launch`` turns a spec into what to start."""

    name: str
    isolated: bool
    launch: Callable[[Spec, Limits], Launch]
    offline_capable: bool
    layout: str = layout.LAYOUT_VERSION  # what the fingerprint says about paths


def _bubblewrap() -> Backend:
    from . import bwrap  # bwrap builds on this module's records

    return Backend("bubblewrap", True, bwrap.launch, True)


def _unsandboxed() -> Backend:
    from . import hostpaths

    root = os.geteuid() == 0 and bool(shutil.which("unshare"))
    return Backend("none", False, hostpaths.launch, root, layout.HOST_LAYOUT)


BACKENDS: dict[str, Callable[[], Backend]] = {"bubblewrap": _bubblewrap, "none": _unsandboxed}


def bubblewrap_version() -> str | None:
    if not shutil.which("bwrap") or not shutil.which("setpriv"):
        return None
    try:
        out = programs.run(["bwrap", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip() or "bubblewrap"


@functools.lru_cache(maxsize=1)
def sandbox_works() -> str | None:
    """Why bubblewrap cannot confine a build here, or None when it can."""
    if os.geteuid() != 0:
        return "builds are sandboxed as root dropping to an unprivileged uid; run as root"
    if bubblewrap_version() is None:
        return "bubblewrap (bwrap) and setpriv are not installed (apt-get install bubblewrap)"
    spec = Spec(argv=("true",), env={"PATH": "/usr/bin:/bin"}, cwd="/")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "probe.log"
        try:
            outcome = run(_bubblewrap(), spec, Limits(timeout=30), log)
        except OSError as exc:
            return f"bubblewrap failed to start: {exc}"
        if outcome.returncode != 0:
            lines = log.read_text(errors="replace").strip().splitlines()
            return f"bubblewrap cannot create namespaces here: {lines[-2:-1] or lines[-1:]}"
    return None


def choose_backend(unsandboxed: bool) -> Backend:
    """The sandbox, or the explicit opt-out; never a silent downgrade."""
    if unsandboxed:
        return BACKENDS["none"]()
    reason = sandbox_works()
    if reason:
        raise SandboxUnavailable(f"cannot sandbox builds: {reason}; pass --unsandboxed to build without it")
    return BACKENDS["bubblewrap"]()


def confinement(backend: Backend) -> str:
    """How builds are bounded here, for the record: a cgroup, or per-process limits and why."""
    where = cgroups.support()
    if backend.isolated and where.version:
        return f"cgroup {where.version}: memory and tmpfs, processes, CPU weight per build"
    return f"per-process limits ({where.describe()})"


def _child_setup(limits: Limits, spec: Spec, group: cgroups.BuildGroup | None) -> Callable[[], None]:
    def apply() -> None:
        if group is not None:
            group.enter()
        os.umask(spec.umask)
        rlimits = [(resource.RLIMIT_FSIZE, limits.file_size), (resource.RLIMIT_CORE, 0)]
        if group is None:  # today's limits where no cgroup confines the build as a whole
            rlimits += [(resource.RLIMIT_AS, limits.memory), (resource.RLIMIT_NPROC, limits.processes)]
        for kind, value in rlimits:
            resource.setrlimit(kind, (value, value))
        if spec.cpus:
            os.sched_setaffinity(0, spec.cpus)

    return apply


def _pump(stream, log_path: Path, cap: int, truncated: list[bool]) -> None:
    written = 0
    with open(log_path, "ab") as log:
        for chunk in iter(lambda: stream.read(65536), b""):
            if written < cap:
                piece = chunk[: cap - written]
                log.write(piece)
                written += len(piece)
                if written >= cap:
                    log.write(b"\n[log truncated by the tracker: output over the cap was dropped]\n")
                    truncated.append(True)


def _drain(stream: BinaryIO, receive: Callable[[BinaryIO], object], into: list) -> None:
    try:
        into.append(receive(stream))
    except Exception as exc:  # hostile bytes must never crash the tracker; the caller sees why
        into.append(exc)
    finally:
        for _ in iter(lambda: stream.read(1 << 16), b""):
            pass  # the rest is dropped, so the sender never blocks


def run(backend: Backend, spec: Spec, limits: Limits, log_path: Path, *,
        receive: Callable[[BinaryIO], object] | None = None) -> Outcome:
    """Run the spec, its output appended to ``log_path``; kill everything at the timeout.

    With ``receive``, the command gets a pipe (its fd named by $WHEELREPRO_CHANNEL); ``receive`` reads it (in a thread, as hostile
    input) and its return value (or the exception it raised) is ``Outcome.received``.
    """
    launch = backend.launch(spec, limits)
    where = cgroups.support() if backend.isolated else cgroups.Support(None, "unsandboxed")
    group = None
    if where.version:
        group = cgroups.BuildGroup.create(where, memory=limits.memory, pids=limits.processes,
                                          cpu_weight=limits.cpu_weight)
    read_end = write_end = None
    env = dict(launch.env)
    if receive is not None:
        read_end, write_end = os.pipe()
        env[CHANNEL_VARIABLE] = str(write_end)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"$ {' '.join(spec.argv)}\n".encode())
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            launch.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, cwd=launch.cwd, pass_fds=launch.fds + ((write_end,) if write_end is not None else ()),
            preexec_fn=_child_setup(limits, spec, group), start_new_session=True,
        )
    except BaseException:
        for fd in (read_end, write_end):
            if fd is not None:
                os.close(fd)
        if group is not None:
            group.close()
        launch.cleanup()
        raise
    for fd in launch.fds:
        os.close(fd)
    received: list = []
    drain = None
    if write_end is not None:
        os.close(write_end)
        drain = threading.Thread(target=_drain, args=(os.fdopen(read_end, "rb"), receive, received), daemon=True)
        drain.start()
    truncated: list[bool] = []
    pump = threading.Thread(target=_pump, args=(proc.stdout, log_path, limits.log_bytes, truncated), daemon=True)
    pump.start()
    timed_out = oom = False
    deadline = started + limits.timeout
    try:
        launch.started(group)
        while True:
            try:
                proc.wait(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
                break
            except subprocess.TimeoutExpired:
                if group is not None and group.usage().oom_kills:
                    oom = True  # v1 has no group OOM kill: a pool whose worker died would wait forever
                    break
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
    finally:
        _kill_group(proc)
        usage = group.close() if group is not None else None
        launch.cleanup()
    oom = oom or bool(usage and usage.oom_kills)
    pump.join(timeout=10)
    if drain is not None:
        drain.join(timeout=30)
    seconds = time.monotonic() - started
    with open(log_path, "ab") as log:
        tail = "timed out" if timed_out else ("out of memory" if oom else f"exit {proc.returncode}")
        log.write(f"[tracker: {tail} after {seconds:.1f}s]\n".encode())
    return Outcome(None if timed_out else proc.returncode, timed_out, seconds, bool(truncated), oom,
                   received[0] if received else None, where.describe() if backend.isolated else "unsandboxed")


def _kill_group(proc: subprocess.Popen) -> None:
    """Whatever the command left running dies with it (the pid namespace and the cgroup do the rest)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def own_for_build(path: Path, uid: int = BUILD_UID) -> None:
    """Hand an empty folder the tracker made to the build uid (the only host folder it may write)."""
    if os.geteuid() == 0:
        os.lchown(path, uid, uid)


def readable(path: Path) -> None:
    """Let the build uid read a file the tracker keeps (an sdist in the store) where it is shown read-only."""
    info = os.lstat(path)
    if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o044 != 0o044:
        os.chmod(path, stat.S_IMODE(info.st_mode) | 0o444, follow_symlinks=False)


def take_back(path: Path) -> None:
    """Make a folder a sandboxed command wrote root's again, treating its contents as hostile.

    Nothing is followed (``lchown``, no descent into links); set-id bits and write access for
    others go; a device, fifo or socket is refused.  Runs only after the writer's sandbox is gone.
    """
    if os.geteuid() != 0:
        return
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in [*dirs, *files, ""]:
            target = os.path.join(root, name) if name else root
            info = os.lstat(target)
            if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                raise SandboxUnavailable(f"a sandboxed step left a special file at {target}")
            os.lchown(target, 0, 0)
            if not stat.S_ISLNK(info.st_mode):
                os.chmod(target, stat.S_IMODE(info.st_mode) & ~(stat.S_ISUID | stat.S_ISGID | 0o022))


@contextlib.contextmanager
def lease_uid(lock_dir: Path = UID_LOCKS) -> Iterator[int]:
    """A build uid no other check on this machine holds until the block ends (released on kill too)."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(UID_POOL):
        handle = open(lock_dir / f"{slot}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield UID_BASE + slot
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise SandboxUnavailable(f"all {UID_POOL} build uids are in use on this machine; lower --jobs")


@dataclass(frozen=True)
class HostTools:
    """Compilers installed outside the system folders, shown read-only at constant paths (rustup's Rust)."""

    mounts: tuple[Mount, ...] = ()
    path_dirs: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@functools.lru_cache(maxsize=1)
def host_tools() -> HostTools:
    home = Path(os.environ.get("HOME", "/root"))
    rustup = Path(os.environ.get("RUSTUP_HOME", home / ".rustup"))
    cargo_bin = Path(os.environ.get("CARGO_HOME", home / ".cargo")) / "bin"
    if (rustup / "toolchains").is_dir() and (cargo_bin / "cargo").exists():
        # only the toolchains and the proxies: cargo's registry and credentials stay hidden
        return HostTools(
            mounts=(Mount(str(rustup), target=f"{layout.RUST}/rustup"), Mount(str(cargo_bin), target=f"{layout.RUST}/bin")),
            path_dirs=(f"{layout.RUST}/bin",),
            env={"RUSTUP_HOME": f"{layout.RUST}/rustup"},
        )
    return HostTools()


def scrubbed_env(extra: Mapping[str, str], path_dirs: Sequence[str]) -> dict[str, str]:
    """The allow-listed environment: nothing from the parent leaks in."""
    tools = host_tools()
    env = {"PATH": ":".join([*path_dirs, *tools.path_dirs, "/usr/local/bin", "/usr/bin", "/bin"])}
    env.update(tools.env)
    env.update(extra)
    return env
