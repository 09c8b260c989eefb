"""Run untrusted build code confined: bubblewrap, an unprivileged uid, limits, a capped log.

Every command that runs code from a package (resolving and installing build requirements,
the build-requirement hook, the build itself) goes through :func:`run`.  The filesystem is
read-only except the mounts marked writable and a private, size-capped /tmp; the network
is a new empty namespace unless the spec asks for it (resolution and installs only).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from ..errors import SandboxUnavailable

#: builds run as uids from a pool no account uses, one uid per check at a time, so a limit that
#: counts per uid (RLIMIT_NPROC) confines each build alone: one package's fork bomb cannot starve
#: a build running beside it (the `user` variation runs as the lease's twin, uid + UID_POOL)
UID_BASE = 1_000_000_000
UID_POOL = 64
BUILD_UID = UID_BASE
UID_LOCKS = Path("/tmp/wheelrepro/.uids")
GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Mount:
    """``path`` is visible in the sandbox at ``target`` (default: the same path); writable only when asked."""

    path: str
    writable: bool = False
    target: str | None = None

    @property
    def inside(self) -> str:
        return self.target or self.path


@dataclass(frozen=True)
class Limits:
    timeout: float = 1800.0
    memory: int = 8 * GiB  # address space of each process
    processes: int = 512  # per build uid
    file_size: int = 2 * GiB  # largest single file a build may write
    tmp_size: int = 4 * GiB  # the private /tmp
    log_bytes: int = 8 * MiB  # the rest of the output is dropped, with a marker


@dataclass(frozen=True)
class Spec:
    """What to run and the world it sees."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: str
    mounts: tuple[Mount, ...] = ()
    network: bool = False
    hostname: str = "builder"
    umask: int = 0o022
    uid: int = BUILD_UID
    cpus: frozenset[int] | None = None
    dirs: tuple[str, ...] = field(default=())  # empty dirs to create inside the private /tmp


@dataclass(frozen=True)
class Outcome:
    returncode: int | None
    timed_out: bool
    seconds: float
    log_truncated: bool


@dataclass(frozen=True)
class Backend:
    """A way to confine a command: ``wrap`` turns a spec into the argv that runs it."""

    name: str
    isolated: bool
    wrap: Callable[[Spec, Limits], list[str]]
    offline_capable: bool


FRESH_ROOTS = ("/tmp", "/var/tmp", "/root", "/home")


def _bwrap_argv(spec: Spec, limits: Limits) -> list[str]:
    argv = [
        "bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--perms", "1777", "--tmpfs", "/dev/shm",  # POSIX semaphores (multiprocessing) live here
        "--proc", "/proc",
        "--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/tmp",
        "--perms", "1777", "--tmpfs", "/var/tmp",
        "--perms", "0755", "--tmpfs", "/root",
        "--perms", "0755", "--tmpfs", "/home",
    ]
    mounts = (*spec.mounts, *host_tools().mounts)
    made: set[str] = set()
    for path in (*spec.dirs, *(m.inside for m in mounts)):
        # bwrap would make missing parents 0700 on the fresh tmpfs roots; the build uid must traverse them
        for parent in reversed(Path(path).parents[:-1]):
            if str(parent) not in made and str(parent).startswith(FRESH_ROOTS) and str(parent) not in FRESH_ROOTS:
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
    for path in spec.dirs:
        argv += ["--perms", "1777", "--dir", path]  # e.g. HOME: the build uid must write there
    for mount in mounts:
        argv += ["--bind" if mount.writable else "--ro-bind", mount.path, mount.inside]
    if spec.cpus:
        # affinity alone leaves os.cpu_count() (sysconf reads this file) at the machine's count
        argv += ["--ro-bind", _online_list(spec.cpus), "/sys/devices/system/cpu/online"]
    argv += [
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", spec.hostname,
        "--die-with-parent", "--new-session",
        "--chdir", spec.cwd,
    ]
    if not spec.network:
        argv.append("--unshare-net")
    argv += [
        "--",
        "setpriv", f"--reuid={spec.uid}", f"--regid={spec.uid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--",
    ]
    return argv + list(spec.argv)


def _online_list(cpus: frozenset[int]) -> str:
    """A file in the kernel's cpulist format naming ``cpus``, to stand in for the online list."""
    folder = Path(tempfile.gettempdir()) / "wheelrepro-cpus"
    folder.mkdir(mode=0o755, exist_ok=True)
    text = ",".join(str(cpu) for cpu in sorted(cpus))
    path = folder / text
    if not path.exists():
        staging = folder / f".{text}.{os.getpid()}.{threading.get_ident()}"
        staging.write_text(text + "\n")
        staging.chmod(0o644)
        os.replace(staging, path)
    return str(path)


def _unsandboxed_argv(spec: Spec, limits: Limits) -> list[str]:
    if not spec.network and os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "--net", "--"] + list(spec.argv)
    return list(spec.argv)


BACKENDS: dict[str, Callable[[], Backend]] = {
    "bubblewrap": lambda: Backend("bubblewrap", True, _bwrap_argv, True),
    "none": lambda: Backend("none", False, _unsandboxed_argv, os.geteuid() == 0 and bool(shutil.which("unshare"))),
}


def bubblewrap_version() -> str | None:
    if not shutil.which("bwrap") or not shutil.which("setpriv"):
        return None
    try:
        out = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip() or "bubblewrap"


def sandbox_works() -> str | None:
    """Why bubblewrap cannot confine a build here, or None when it can."""
    if os.geteuid() != 0:
        return "builds are sandboxed as root dropping to an unprivileged uid; run as root"
    if bubblewrap_version() is None:
        return "bubblewrap (bwrap) and setpriv are not installed (apt-get install bubblewrap)"
    spec = Spec(argv=("true",), env={"PATH": "/usr/bin:/bin"}, cwd="/")
    try:
        proc = subprocess.run(_bwrap_argv(spec, Limits()), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bubblewrap failed to start: {exc}"
    if proc.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {proc.stderr.strip().splitlines()[-1:]}"
    return None


def choose_backend(unsandboxed: bool) -> Backend:
    """The sandbox, or the explicit opt-out; never a silent downgrade."""
    if unsandboxed:
        return BACKENDS["none"]()
    reason = sandbox_works()
    if reason:
        raise SandboxUnavailable(f"cannot sandbox builds: {reason}; pass --unsandboxed to build without it")
    return BACKENDS["bubblewrap"]()


def _limit(limits: Limits, spec: Spec) -> Callable[[], None]:
    def apply() -> None:
        os.umask(spec.umask)
        for kind, value in (
            (resource.RLIMIT_AS, limits.memory),
            (resource.RLIMIT_FSIZE, limits.file_size),
            (resource.RLIMIT_NPROC, limits.processes),
            (resource.RLIMIT_CORE, 0),
        ):
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


def run(backend: Backend, spec: Spec, limits: Limits, log_path: Path) -> Outcome:
    """Run the spec, its output appended to ``log_path``; kill everything at the timeout."""
    argv = backend.wrap(spec, limits)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"$ {' '.join(spec.argv)}\n".encode())
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(spec.env),
        cwd=spec.cwd if not backend.isolated else "/",
        preexec_fn=_limit(limits, spec),
        start_new_session=True,
    )
    truncated: list[bool] = []
    pump = threading.Thread(target=_pump, args=(proc.stdout, log_path, limits.log_bytes, truncated), daemon=True)
    pump.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc)
    pump.join(timeout=10)
    seconds = time.monotonic() - started
    with open(log_path, "ab") as log:
        tail = "timed out" if timed_out else f"exit {proc.returncode}"
        log.write(f"[tracker: {tail} after {seconds:.1f}s]\n".encode())
    return Outcome(None if timed_out else proc.returncode, timed_out, seconds, bool(truncated))


def _kill_group(proc: subprocess.Popen) -> None:
    """Whatever the command left running dies with it (the pid namespace does the rest)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def own_for_build(path: Path, uid: int = BUILD_UID) -> None:
    """Hand a folder to the build uid (the only place it may write); uid 0 takes it back."""
    if os.geteuid() != 0:
        return
    for root, dirs, files in os.walk(path):
        os.lchown(root, uid, uid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, uid)


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
    """Compilers installed outside the system folders, shown read-only to builds (rustup's Rust)."""

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
            mounts=(Mount(str(rustup)), Mount(str(cargo_bin))),
            path_dirs=(str(cargo_bin),),
            env={"RUSTUP_HOME": str(rustup)},
        )
    return HostTools()


def scrubbed_env(extra: Mapping[str, str], path_dirs: Sequence[str]) -> dict[str, str]:
    """The allow-listed environment: nothing from the parent leaks in."""
    tools = host_tools()
    env = {"PATH": ":".join([*path_dirs, *tools.path_dirs, "/usr/local/bin", "/usr/bin", "/bin"])}
    env.update(tools.env)
    env.update(extra)
    return env
