"""The sandbox: what build code can and cannot see, reach, hold and leave behind."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from pipeline.engine import cgroups, sandbox

pytestmark = pytest.mark.skipif(sandbox.sandbox_works() is not None, reason=str(sandbox.sandbox_works()))

PY = sys.base_prefix
#: the base interpreter at a constant path, as builds see theirs (a venv's python is not in the sandbox)
PYTHON = f"/opt/python/test/bin/python{sys.version_info.major}.{sys.version_info.minor}"
ENV = {"HOME": "/tmp/home", "LD_LIBRARY_PATH": "/opt/python/test/lib"}


def _run(tmp_path, code: str, *, limits=sandbox.Limits(timeout=30), receive=None, mounts=(), **spec
         ) -> tuple[sandbox.Outcome, str]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    sandbox.own_for_build(work)
    code = "print('@@output@@', flush=True)\n" + code  # the log starts with the command: keep only the output
    spec = sandbox.Spec(argv=(PYTHON, "-c", code), env=sandbox.scrubbed_env(ENV, []), cwd="/work",
                        mounts=(sandbox.Mount(PY, target="/opt/python/test"),
                                sandbox.Mount(str(work), writable=True, target="/work"), *mounts),
                        dirs=("/tmp/home",), **spec)
    log = tmp_path / "log.txt"
    log.unlink(missing_ok=True)
    outcome = sandbox.run(sandbox.BACKENDS["bubblewrap"](), spec, limits, log, receive=receive)
    text = log.read_text(errors="replace")
    return outcome, text.split("@@output@@\n", 1)[-1]


def test_runs_as_an_unprivileged_user_with_no_capabilities(tmp_path):
    outcome, log = _run(tmp_path, "import os, pwd; print('uid', os.getuid(), pwd.getpwuid(os.getuid()).pw_name); "
                                  "print(open('/proc/self/status').read())")
    assert outcome.returncode == 0
    assert f"uid {sandbox.BUILD_UID} builder" in log
    assert "CapEff:\t0000000000000000" in log and "NoNewPrivs:\t1" in log and "Seccomp:\t2" in log


def test_no_secret_from_the_parent_environment_reaches_the_build(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fake_secret_value")
    outcome, log = _run(tmp_path, "import os; print(sorted(os.environ))")
    assert outcome.returncode == 0 and "GITHUB_TOKEN" not in log and "ghp_fake" not in log


def test_the_network_is_unreachable(tmp_path):
    code = "import socket\ntry:\n socket.create_connection(('1.1.1.1', 53), timeout=3); print('CONNECTED')\nexcept OSError as e: print('blocked', e)"
    outcome, log = _run(tmp_path, code)
    assert log.startswith("blocked") and "CONNECTED" not in log


def test_the_root_is_minimal(tmp_path):
    """Only /usr, a few /etc files and the spec's mounts: no /home, /root, /srv, /run, /var data, no checkout."""
    here = Path(__file__).resolve()
    code = ("import os\nprint('root', sorted(os.listdir('/')))\nprint('etc', sorted(os.listdir('/etc')))\n"
            f"for p in ['/home', '/root', '/srv', '/run', '/var/lib', '/media', '{here}', '{tmp_path}']:\n"
            "    print('absent' if not os.path.lexists(p) else 'PRESENT', p)")
    outcome, log = _run(tmp_path, code)
    assert outcome.returncode == 0 and "PRESENT" not in log and log.count("absent") == 8, log
    root = eval(log.split("root ", 1)[1].splitlines()[0])
    assert set(root) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc", "sbin", "sys", "tmp",
                         "usr", "var", "work"}
    etc = eval(log.split("etc ", 1)[1].splitlines()[0])
    assert "shadow" not in etc and "pip.conf" not in etc and {"passwd", "group", "hosts", "ld.so.cache"} <= set(etc)


def test_only_the_given_folder_is_writable(tmp_path):
    victim = tmp_path / "results.json"
    victim.write_text("honest")
    code = ("open('ok.txt', 'w').write('x')\n"
            "for p in ['/etc/passwd', '/usr/bin/x', '/opt/python/test/x', '/sys/devices/system/cpu/x']:\n"
            "    try:\n        open(p, 'a').write('forged'); print('WROTE', p)\n"
            "    except OSError as e: print('refused', p, type(e).__name__)")
    outcome, log = _run(tmp_path, code)
    assert outcome.returncode == 0 and "\nWROTE" not in log and log.count("refused") == 4, log
    assert victim.read_text() == "honest" and (tmp_path / "work" / "ok.txt").is_file()


def test_nothing_it_starts_survives_it(tmp_path):
    marker = tmp_path / "work" / "alive"
    # the detached loop touches the marker at once, and the build waits until it has: it surely ran
    code = ("import os, subprocess, time\n"
            "subprocess.Popen(['sh', '-c', 'setsid sh -c \"while true; do touch /work/alive; sleep 0.2; done\" &'])\n"
            "while not os.path.exists('/work/alive'): time.sleep(0.05)\n"
            "print('detached child is running')\n")
    outcome, log = _run(tmp_path, code)
    assert outcome.returncode == 0 and "detached child is running" in log
    marker.unlink()
    time.sleep(1.0)
    assert not marker.exists(), "a process outlived the build"


def test_the_timeout_kills_it(tmp_path):
    outcome, log = _run(tmp_path, "import time; time.sleep(60)", limits=sandbox.Limits(timeout=2))
    assert outcome.timed_out and outcome.returncode is None and outcome.seconds < 20


def test_a_huge_file_is_stopped_by_the_size_cap(tmp_path):
    code = "f = open('big', 'wb')\nfor _ in range(64): f.write(b'0' * (1 << 20))"
    outcome, log = _run(tmp_path, code, limits=sandbox.Limits(timeout=30, file_size=8 * sandbox.MiB))
    assert outcome.returncode != 0
    assert (tmp_path / "work" / "big").stat().st_size <= 8 * sandbox.MiB


def test_a_fork_bomb_is_contained(tmp_path):
    code = "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            import time; time.sleep(30); os._exit(0)\n        n += 1\nexcept OSError as e: print('stopped after', n, e)"
    outcome, log = _run(tmp_path, code, limits=sandbox.Limits(timeout=20, processes=64))
    assert "stopped after" in log


def test_the_log_is_capped(tmp_path):
    outcome, log = _run(tmp_path, "print('x' * 100000)", limits=sandbox.Limits(timeout=30, log_bytes=1000))
    assert "log truncated" in log and len(log) < 3000


@pytest.mark.parametrize("path", ["/tmp/x", "/var/tmp/x", "/dev/shm/x"])
def test_every_writable_tmpfs_is_size_capped(tmp_path, path):
    code = (f"import errno\ntry:\n    with open('{path}', 'wb') as f:\n        for _ in range(64): f.write(b'0' * (1 << 20))\n"
            "    print('WROTE 64 MiB')\nexcept OSError as e: print('stopped', errno.errorcode[e.errno])")
    limits = sandbox.Limits(timeout=30, tmp_size=16 * sandbox.MiB, shm_size=16 * sandbox.MiB)
    outcome, log = _run(tmp_path, code, limits=limits)
    assert "stopped ENOSPC" in log and "WROTE" not in log


@pytest.mark.skipif(cgroups.support().version is None, reason=cgroups.support().reason)
def test_memory_counts_every_process_and_the_tmpfs_they_fill(tmp_path):
    code = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        b = bytearray(200 << 20)\n"
            "        for i in range(0, len(b), 4096): b[i] = 1\n        time.sleep(20); os._exit(0)\n"
            "open('/dev/shm/fill', 'wb').write(b'0' * (200 << 20))\ntime.sleep(20)\nprint('SURVIVED')")
    limits = sandbox.Limits(timeout=60, memory=512 * sandbox.MiB, shm_size=sandbox.GiB)
    outcome, log = _run(tmp_path, code, limits=limits)
    assert outcome.oom and "SURVIVED" not in log and "out of memory" in log
    assert outcome.seconds < 20, "the whole build ends at the first kill, not at the timeout"


@pytest.mark.skipif(cgroups.support().version is None, reason=cgroups.support().reason)
def test_each_run_has_its_own_group_and_leaves_none(tmp_path):
    outcome, log = _run(tmp_path, "print(open('/proc/self/cgroup').read())")
    assert outcome.returncode == 0 and outcome.confinement.startswith("cgroup")
    for _, parent in cgroups.support().parents:
        assert not [name for name in os.listdir(parent) if name.startswith("build-")]


def test_no_user_namespaces_or_mounts_but_threads_and_forks_work(tmp_path):
    code = ("import ctypes, os, subprocess, threading\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print('unshare', libc.unshare(0x10000000), ctypes.get_errno())\n"
            "print('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())\n"
            "print('unshare -Ur', subprocess.run(['unshare', '-Ur', 'true'], capture_output=True).returncode)\n"
            "t = threading.Thread(target=print, args=('thread ran',)); t.start(); t.join()\n"
            "print('child', subprocess.run(['true']).returncode)")
    outcome, log = _run(tmp_path, code)
    assert "unshare -1 1\n" in log and "mount -1 1\n" in log and "unshare -Ur 0" not in log
    assert "thread ran" in log and "child 0" in log


@pytest.fixture
def host_socket(tmp_path):
    path = f"/run/wheelrepro-sandbox-test-{os.getpid()}.sock"
    servers = []
    for where in (path, "\0wheelrepro-sandbox-test"):
        server = socket.socket(socket.AF_UNIX)
        server.bind(where)
        server.listen(1)
        servers.append(server)
    yield path
    for server in servers:
        server.close()
    os.unlink(path)


@pytest.mark.parametrize("network", [False, True])
def test_host_unix_sockets_are_out_of_reach(tmp_path, host_socket, network):
    code = ("import socket\nfor where in [%r, '\\0wheelrepro-sandbox-test']:\n    try:\n"
            "        s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(where); print('CONNECTED', repr(where))\n"
            "    except OSError as e: print('refused', type(e).__name__)\n"
            "print('pair', len(socket.socketpair()))") % host_socket
    outcome, log = _run(tmp_path, code, network=network)
    assert "CONNECTED" not in log and log.count("refused") == 2 and "pair 2" in log, log


def test_the_answer_comes_back_through_the_pipe_and_nothing_else_does(tmp_path):
    code = ("import os\nprint('to the log')\nfd = int(os.environ['WHEELREPRO_CHANNEL'])\n"
            "os.write(fd, b'the answer')")
    outcome, log = _run(tmp_path, code, receive=lambda stream: stream.read(100))
    assert outcome.received == b"the answer" and "to the log" in log and "the answer" not in log


def test_unsandboxed_is_never_chosen_silently(monkeypatch):
    monkeypatch.setattr(sandbox, "sandbox_works", lambda: "no bwrap here")
    with pytest.raises(sandbox.SandboxUnavailable, match="pass --unsandboxed"):
        sandbox.choose_backend(unsandboxed=False)
    assert sandbox.choose_backend(unsandboxed=True).name == "none"


def test_each_lease_is_its_own_uid_and_is_given_back(tmp_path):
    with sandbox.lease_uid(tmp_path) as first, sandbox.lease_uid(tmp_path) as second:
        assert first != second and {first, second} <= set(range(sandbox.UID_BASE, sandbox.UID_BASE + sandbox.UID_POOL))
    with sandbox.lease_uid(tmp_path) as again:
        assert again == first


def test_a_folder_taken_back_is_roots_and_keeps_no_special_bits(tmp_path):
    folder = tmp_path / "venv"
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "tool").write_text("#!/bin/sh\n")
    os.chmod(folder / "bin" / "tool", 0o6777)
    (folder / "link").symlink_to("/etc/passwd")
    for path in (folder, folder / "bin", folder / "bin" / "tool"):
        os.chown(path, sandbox.BUILD_UID, sandbox.BUILD_UID)
    sandbox.take_back(folder)
    assert all(os.lstat(p).st_uid == 0 for p in (folder, folder / "bin", folder / "bin" / "tool", folder / "link"))
    assert oct(os.stat(folder / "bin" / "tool").st_mode & 0o7777) == "0o755"
    assert Path("/etc/passwd").stat().st_uid == 0, "the link was not followed"
    os.mkfifo(folder / "fifo")
    with pytest.raises(sandbox.SandboxUnavailable, match="special file"):
        sandbox.take_back(folder)
