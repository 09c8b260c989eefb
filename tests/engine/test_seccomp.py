"""The seccomp program: checked as data (every architecture) and by what it refuses (tests/engine/test_sandbox.py)."""

from __future__ import annotations

import struct

import pytest

from pipeline.engine import seccomp

LOAD, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06


def _decode(program: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]


def _run(program: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """A tiny classic-BPF interpreter over struct seccomp_data: what the kernel would return."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, *(list(args) + [0] * (6 - len(args))))
    code, pc, acc = _decode(program), 0, 0
    while True:
        op, jt, jf, k = code[pc]
        if op == LOAD:
            acc = struct.unpack_from("=I", data, k)[0]
        elif op == RET:
            return k
        elif op in (JEQ, JGE, JSET):
            taken = acc == k if op == JEQ else acc >= k if op == JGE else bool(acc & k)
            pc += jt if taken else jf
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
        pc += 1


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHES))
def test_every_jump_is_forward_and_the_program_ends_in_returns(machine):
    code = _decode(seccomp.program(machine, deny_unix_sockets=True))
    assert code[0] == (LOAD, 0, 0, 4), "the architecture is checked first"
    for position, (op, jt, jf, _) in enumerate(code):
        if op in (JEQ, JGE, JSET):
            assert position + 1 + max(jt, jf) < len(code)
    assert code[-1][0] == RET


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHES))
def test_denied_calls_get_eperm_and_the_rest_is_allowed(machine):
    arch, numbers, _ = seccomp.ARCHES[machine]
    program = seccomp.program(machine)
    for name in ("unshare", "setns", "mount", "ptrace", "keyctl", "bpf", "process_vm_readv"):
        assert _run(program, numbers[name], arch) == 0x00050000 | 1, name
    assert _run(program, numbers["clone3"], arch) == 0x00050000 | 38, "clone3 says ENOSYS, libc falls back to clone"
    assert _run(program, numbers["clone"], arch, (0x11,)) == 0x7FFF0000, "a plain fork is allowed"
    assert _run(program, numbers["clone"], arch, (0x10000000 | 0x11,)) == 0x00050000 | 1, "CLONE_NEWUSER is not"
    assert _run(program, numbers["ioctl"], arch, (0, seccomp.TIOCSTI)) == 0x00050000 | 1
    assert _run(program, numbers["ioctl"], arch, (0, 0x5401)) == 0x7FFF0000
    assert _run(program, numbers["socket"], arch, (seccomp.AF_UNIX,)) == 0x7FFF0000, "offline: the net ns isolates"
    assert _run(program, 0 if machine == "x86_64" else 63, arch) == 0x7FFF0000, "read"


def test_with_the_network_unix_sockets_are_refused_but_inet_is_not():
    arch, numbers, _ = seccomp.ARCHES["x86_64"]
    program = seccomp.program("x86_64", deny_unix_sockets=True)
    assert _run(program, numbers["socket"], arch, (seccomp.AF_UNIX,)) == 0x00050000 | 1
    assert _run(program, numbers["socket"], arch, (2,)) == 0x7FFF0000


def test_a_foreign_abi_is_killed():
    arch, _, x32 = seccomp.ARCHES["x86_64"]
    program = seccomp.program("x86_64")
    assert _run(program, 0, 0x40000003) == 0x80000000, "i386"
    assert _run(program, x32 | 0, arch) == 0x80000000, "x32"
