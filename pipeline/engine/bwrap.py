"""The bubblewrap command line for a :class:`~.sandbox.Spec`: a minimal root, as Nix builds get.

Not ``/`` read-only: only the system's ``/usr`` (with the merged-/usr links), the few ``/etc``
files compilers, the loader and Python need, generated ``passwd``/``group``/``hosts``, the CPU
topology, and the spec's own mounts.  No host ``/run`` (so no host sockets, D-Bus or docker),
``/home``, ``/root``, ``/srv``, ``/var``, ``/opt`` or other checkouts.  ``/tmp``, ``/var/tmp`` and
``/dev/shm`` are private tmpfs mounts with size caps.  bubblewrap starts as root to make the
mounts; the command runs through ``setpriv`` as the unprivileged uid with no capabilities, under
the seccomp filter (:mod:`.seccomp`).
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from . import fileorder, seccomp
from .sandbox import Launch, Limits, Spec, host_tools

#: merged-/usr links (or folders on an older layout), shown as the host has them
USR_LINKS = ("bin", "sbin", "lib", "lib64", "lib32", "libx32")
#: /etc entries every command may need: the loader, cc's alternatives, name service, locale aliases
ETC_ALWAYS = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "os-release", "debian_version",
              "lsb-release", "mime.types", "localtime", "nsswitch.conf", "locale.alias")
#: and only with the network (resolving and installing build requirements, fetching crates)
ETC_NETWORK = ("resolv.conf", "hosts", "gai.conf", "host.conf", "services", "protocols", "ssl",
               "ca-certificates", "ca-certificates.conf")


def _data(text: str) -> int:
    """A pipe holding ``text`` for ``--ro-bind-data`` (small: it fits the pipe's buffer)."""
    read, write = os.pipe()
    try:
        os.write(write, text.encode())
    finally:
        os.close(write)
    return read


class _Tree:
    """Folders made in the new root: every parent of a mount point exists and is searchable (0755)."""

    def __init__(self) -> None:
        self.argv: list[str] = []
        self.made: set[str] = {"/"}
        self.bound: list[str] = []  # bind targets: what is under them already exists

    def _exists(self, path: str) -> bool:
        return path in self.made or any(path == b or path.startswith(b + "/") for b in self.bound)

    def parents(self, path: str) -> None:
        for parent in reversed(Path(path).parents):
            text = str(parent)
            if not self._exists(text):
                self.argv += ["--perms", "0755", "--dir", text]
                self.made.add(text)

    def bind(self, host: str, inside: str, writable: bool = False) -> None:
        self.parents(inside)
        self.argv += ["--bind" if writable else "--ro-bind", host, inside]
        self.bound.append(inside)

    def tmpfs(self, inside: str, size: int, mode: int) -> None:
        self.parents(inside)
        self.argv += ["--perms", f"{mode:04o}", "--size", str(size), "--tmpfs", inside]
        self.made.add(inside)

    def folder(self, inside: str, mode: int) -> None:
        self.parents(inside)
        self.argv += ["--perms", f"{mode:04o}", "--dir", inside]
        self.made.add(inside)

    def data(self, fd: int, inside: str) -> None:
        self.parents(inside)
        self.argv += ["--perms", "0644", "--ro-bind-data", str(fd), inside]  # without --perms: 0600, unreadable

    def link(self, target: str, inside: str) -> None:
        self.parents(inside)
        self.argv += ["--symlink", target, inside]


def _etc(tree: _Tree, names: tuple[str, ...]) -> None:
    for name in names:
        path = f"/etc/{name}"
        if os.path.islink(path):
            tree.link(os.readlink(path), path)
        elif os.path.exists(path):
            tree.bind(path, path)


def _identity(spec: Spec) -> dict[str, str]:
    home = spec.env.get("HOME", "/tmp/home")
    return {
        "/etc/passwd": f"root:x:0:0:root:/root:/bin/sh\n{spec.user}:x:{spec.uid}:{spec.uid}::{home}:/bin/sh\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "/etc/group": f"root:x:0:\n{spec.user}:x:{spec.uid}:\nnogroup:x:65534:\n",
        "/etc/hosts": f"127.0.0.1\tlocalhost\n127.0.1.1\t{spec.hostname}\n::1\tlocalhost ip6-localhost\n",
    }


def arguments(spec: Spec, limits: Limits) -> tuple[list[str], list[int]]:
    """bwrap's arguments up to the command, and the fds they name (the caller passes and closes them)."""
    tree, fds = _Tree(), []
    tree.bind("/usr", "/usr")
    for name in USR_LINKS:
        path = f"/{name}"
        if os.path.islink(path):
            tree.link(os.readlink(path), path)
        elif os.path.isdir(path):
            tree.bind(path, path)
    tree.argv += ["--dev", "/dev", "--proc", "/proc"]
    tree.made.update({"/dev", "/proc"})
    if spec.reordered:  # root-only (0600): the build cannot open it, and the seccomp filter refuses mount
        tree.argv += ["--dev-bind", fileorder.FUSE_DEVICE, fileorder.FUSE_DEVICE]
    tree.tmpfs("/dev/shm", limits.shm_size, 0o1777)  # POSIX semaphores (multiprocessing) live here
    tree.tmpfs("/tmp", limits.tmp_size, 0o1777)
    tree.tmpfs("/var/tmp", limits.shm_size, 0o1777)
    tree.folder("/etc", 0o755)
    _etc(tree, ETC_ALWAYS)
    identity = _identity(spec)
    if spec.network:
        _etc(tree, ETC_NETWORK)
        identity.pop("/etc/hosts")
    for inside, text in identity.items():
        fds.append(_data(text))
        tree.data(fds[-1], inside)
    tree.link("../proc/self/mounts", "/etc/mtab")
    if os.path.isdir("/sys/devices/system/cpu"):
        tree.bind("/sys/devices/system/cpu", "/sys/devices/system/cpu")  # nproc, cache sizes
        if spec.cpus:  # affinity alone leaves os.cpu_count() (sysconf reads this file) at the machine's count
            tree.bind(_online_list(spec.cpus), "/sys/devices/system/cpu/online")
    for path in spec.dirs:
        tree.folder(path, 0o1777)  # e.g. HOME: the build uid must write there
    for mount in (*host_tools().mounts, *spec.mounts):
        tree.bind(mount.path, mount.inside, mount.writable)
    for extra in spec.tmpfs:
        tree.tmpfs(extra.path, extra.size, extra.mode)
    if spec.reordered:  # both made by bubblewrap before anything runs; fileorder.mounter joins them
        tree.folder(fileorder.BACKING, 0o1777)
        tree.folder(spec.reordered, 0o755)
    argv = ["bwrap", *tree.argv,
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--hostname", spec.hostname, "--die-with-parent", "--new-session", "--chdir", spec.cwd]
    if not spec.network:
        argv.append("--unshare-net")
    # with the network the host's abstract unix sockets are reachable: refuse AF_UNIX sockets there
    filter_fd = seccomp.filter_fd(deny_unix_sockets=spec.network)
    if filter_fd is not None:
        fds.append(filter_fd)
        argv += ["--seccomp", str(filter_fd)]
    return argv, fds


def launch(spec: Spec, limits: Limits) -> Launch:
    argv, fds = arguments(spec, limits)
    started, cleanup, handshake = (lambda group: None), (lambda: None), []
    if spec.reordered:
        (info, info_inside), (ready, ready_inside), (go_inside, go) = os.pipe(), os.pipe(), os.pipe()
        fds += [info_inside, ready_inside, go_inside]
        argv += ["--info-fd", str(info_inside)]
        handshake = fileorder.handshake(ready_inside, go_inside)
        mounter = fileorder.Mounter(info, ready, go, spec.reordered)
        started, cleanup = mounter.started, mounter.cleanup
    argv += ["--", *handshake]  # as root: a pipe's /proc/self/fd link opens only for its owner
    if spec.domainname:  # set as root in the new UTS namespace (it needs CAP_SYS_ADMIN), before the uid drop
        argv += ["/bin/sh", "-c", 'domainname "$0" && exec "$@"', spec.domainname]
    argv += ["setpriv", f"--reuid={spec.uid}", f"--regid={spec.uid}", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--", *spec.argv]
    return Launch(argv=argv, env=dict(spec.env), cwd="/", fds=tuple(fds), started=started, cleanup=cleanup)


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
