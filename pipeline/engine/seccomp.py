"""The seccomp filter every sandboxed command runs under: syscalls a build never needs are refused.

A classic-BPF program, assembled here with ``struct`` alone (no libseccomp binding, which would
tie the tracker to one interpreter's C extension).  bubblewrap installs it (``--seccomp FD``)
right before it starts the command, so it covers the drop to the build uid and all that follows.

Refused with EPERM: new namespaces (``unshare``, ``setns``, ``clone`` with a CLONE_NEW* flag: no
``unshare -Ur`` inside a build), ``mount`` and the new mount API, ``ptrace`` and
``process_vm_readv/writev`` (no reading another process, child or not), the kernel keyring
(``keyctl``, ``add_key``, ``request_key``), ``bpf``, ``perf_event_open``, ``userfaultfd``,
``io_uring``, module loading, kexec, reboot, swap, quotas, the clock, handle-based opens, and
the TIOCSTI/TIOCLINUX ioctls (typing into a terminal).  ``clone3`` gets ENOSYS: its flags sit in
memory a filter cannot read, and libc then falls back to ``clone``, whose flags it can.  A
foreign syscall ABI (i386's ``int 0x80``, x32) kills the process.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_KILL_PROCESS = 0x80000000
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000

_NR, _ARCH = 0, 4  # offsets in struct seccomp_data


def _arg(index: int) -> int:
    """Offset of the low 32 bits of syscall argument ``index`` (little-endian)."""
    return 16 + 8 * index


CLONE_NEW_ANY = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
AF_UNIX = 1

DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig", "fsmount", "move_mount",
    "open_tree", "fspick", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev", "keyctl", "add_key",
    "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff",
    "acct", "quotactl", "quotactl_fd", "open_by_handle_at", "name_to_handle_at", "syslog", "vhangup",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "lookup_dcookie", "uselib", "iopl", "ioperm",
    "nfsservctl", "_sysctl", "create_module", "get_kernel_syms", "query_module",
)

#: the syscall numbers (x86_64: asm/unistd_64.h; aarch64: asm-generic/unistd.h), cross-checked with libseccomp
_X86_64 = dict(
    unshare=272, setns=308, mount=165, umount2=166, pivot_root=155, chroot=161, fsopen=430, fsconfig=431,
    fsmount=432, move_mount=429, open_tree=428, fspick=433, mount_setattr=442, ptrace=101, process_vm_readv=310,
    process_vm_writev=311, keyctl=250, add_key=248, request_key=249, bpf=321, perf_event_open=298, userfaultfd=323,
    io_uring_setup=425, io_uring_enter=426, io_uring_register=427, init_module=175, finit_module=313,
    delete_module=176, kexec_load=246, kexec_file_load=320, reboot=169, swapon=167, swapoff=168, acct=163,
    quotactl=179, quotactl_fd=443, open_by_handle_at=304, name_to_handle_at=303, syslog=103, vhangup=153,
    settimeofday=164, clock_settime=227, clock_adjtime=305, adjtimex=159, lookup_dcookie=212, uselib=134, iopl=172,
    ioperm=173, nfsservctl=180, _sysctl=156, create_module=174, get_kernel_syms=177, query_module=178,
    clone=56, clone3=435, ioctl=16, socket=41,
)
_AARCH64 = dict(
    unshare=97, setns=268, mount=40, umount2=39, pivot_root=41, chroot=51, fsopen=430, fsconfig=431, fsmount=432,
    move_mount=429, open_tree=428, fspick=433, mount_setattr=442, ptrace=117, process_vm_readv=270,
    process_vm_writev=271, keyctl=219, add_key=217, request_key=218, bpf=280, perf_event_open=241, userfaultfd=282,
    io_uring_setup=425, io_uring_enter=426, io_uring_register=427, init_module=105, finit_module=273,
    delete_module=106, kexec_load=104, kexec_file_load=294, reboot=142, swapon=224, swapoff=225, acct=89,
    quotactl=60, quotactl_fd=443, open_by_handle_at=265, name_to_handle_at=264, syslog=116, vhangup=58,
    settimeofday=170, clock_settime=112, clock_adjtime=266, adjtimex=171, lookup_dcookie=18, nfsservctl=42,
    clone=220, clone3=435, ioctl=29, socket=198,
)
#: machine -> (AUDIT_ARCH_*, syscall numbers, the bit that marks another ABI's numbers on it)
ARCHES = {"x86_64": (0xC000003E, _X86_64, 0x40000000), "aarch64": (0xC00000B7, _AARCH64, None)}


def supported(machine: str | None = None) -> bool:
    return (machine or platform.machine()) in ARCHES


def program(machine: str | None = None, *, deny_unix_sockets: bool = False) -> bytes:
    """The filter as ``struct sock_filter`` records; ``deny_unix_sockets`` for steps with the network,
    which share the host's abstract unix socket namespace (socketpair stays allowed)."""
    machine = machine or platform.machine()
    audit_arch, numbers, abi_bit = ARCHES[machine]
    code: list[tuple] = [("ld", _ARCH), ("jeq", audit_arch, None, "kill"), ("ld", _NR)]
    if abi_bit:
        code.append(("jge", abi_bit, "kill", None))
    for nr in sorted({numbers[name] for name in DENIED if name in numbers}):
        code.append(("jeq", nr, "deny", None))
    code += [("jeq", numbers["clone"], "clone", None), ("jeq", numbers["clone3"], "nosys", None),
             ("jeq", numbers["ioctl"], "ioctl", None)]
    if deny_unix_sockets:
        code.append(("jeq", numbers["socket"], "socket", None))
    code += [("ret", _ALLOW),
             ("label", "nosys"), ("ret", _ERRNO | errno.ENOSYS),
             ("label", "kill"), ("ret", _KILL_PROCESS),
             ("label", "clone"), ("ld", _arg(0)), ("jset", CLONE_NEW_ANY, "deny", None), ("ret", _ALLOW),
             ("label", "ioctl"), ("ld", _arg(1)), ("jeq", TIOCSTI, "deny", None), ("jeq", TIOCLINUX, "deny", None),
             ("ret", _ALLOW),
             ("label", "socket"), ("ld", _arg(0)), ("jeq", AF_UNIX, "deny", None), ("ret", _ALLOW),
             ("label", "deny"), ("ret", _ERRNO | errno.EPERM)]  # last: every jump to it is forward
    return _assemble(code)


def _assemble(code: list[tuple]) -> bytes:
    """Resolve labels into forward jump offsets (classic BPF cannot jump back) and pack."""
    labels, position = {}, 0
    for item in code:
        if item[0] == "label":
            labels[item[1]] = position
        else:
            position += 1
    out, position = [], 0
    opcodes = {"jeq": _JEQ_K, "jge": _JGE_K, "jset": _JSET_K}
    for item in code:
        kind = item[0]
        if kind == "label":
            continue
        if kind == "ld":
            out.append(struct.pack("=HBBI", _LD_W_ABS, 0, 0, item[1]))
        elif kind == "ret":
            out.append(struct.pack("=HBBI", _RET_K, 0, 0, item[1]))
        else:
            _, value, if_true, if_false = item
            jt = _offset(position, labels[if_true]) if if_true else 0
            jf = _offset(position, labels[if_false]) if if_false else 0
            out.append(struct.pack("=HBBI", opcodes[kind], jt, jf, value))
        position += 1
    return b"".join(out)


def _offset(position: int, target: int) -> int:
    offset = target - position - 1
    if not 0 <= offset <= 255:
        raise ValueError(f"seccomp jump from {position} to {target} does not fit")
    return offset


def filter_fd(deny_unix_sockets: bool = False) -> int | None:
    """A readable pipe holding the program (for ``bwrap --seccomp FD``), or None on another architecture."""
    if not supported():
        return None
    data = program(deny_unix_sockets=deny_unix_sockets)
    read, write = os.pipe()
    try:
        os.write(write, data)  # a few hundred bytes: far below a pipe's buffer
    finally:
        os.close(write)
    return read
