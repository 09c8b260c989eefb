"""The sandbox: what build code can and cannot see, reach and leave behind."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from pipeline.engine import sandbox

pytestmark = pytest.mark.skipif(sandbox.sandbox_works() is not None, reason=str(sandbox.sandbox_works()))

PY = sys.base_prefix
#: the base interpreter (a venv's python, e.g. nox's under /tmp, is not visible in the sandbox)
PYTHON = f"{PY}/bin/python{sys.version_info.major}.{sys.version_info.minor}"


def _run(tmp_path, code: str, *, limits=sandbox.Limits(timeout=30), **spec) -> tuple[sandbox.Outcome, str]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    sandbox.own_for_build(work)
    spec = sandbox.Spec(argv=(PYTHON, "-c", code), env=sandbox.scrubbed_env({"HOME": "/tmp/home"}, []),
                        cwd=str(work), mounts=(sandbox.Mount(PY), sandbox.Mount(str(work), writable=True)),
                        dirs=("/tmp/home",), **spec)
    log = tmp_path / "log.txt"
    outcome = sandbox.run(sandbox.BACKENDS["bubblewrap"](), spec, limits, log)
    return outcome, log.read_text()


def test_runs_as_an_unprivileged_user_with_no_capabilities(tmp_path):
    outcome, log = _run(tmp_path, "import os; print('uid', os.getuid()); print(open('/proc/self/status').read())")
    assert outcome.returncode == 0
    assert f"uid {sandbox.BUILD_UID}" in log
    assert "CapEff:\t0000000000000000" in log and "NoNewPrivs:\t1" in log


def test_no_secret_from_the_parent_environment_reaches_the_build(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fake_secret_value")
    outcome, log = _run(tmp_path, "import os; print(sorted(os.environ))")
    assert outcome.returncode == 0 and "GITHUB_TOKEN" not in log and "ghp_fake" not in log


def test_the_network_is_unreachable(tmp_path):
    code = "import socket\ntry:\n socket.create_connection(('1.1.1.1', 53), timeout=3); print('CONNECTED')\nexcept OSError as e: print('blocked', e)"
    outcome, log = _run(tmp_path, code)
    assert "\nblocked" in log and "\nCONNECTED" not in log


def test_only_the_build_folder_is_writable(tmp_path):
    victim = tmp_path / "results.json"
    victim.write_text("honest")
    code = (f"open('ok.txt', 'w').write('x')\n"
            f"for p in ['{victim}', '/etc/passwd', '{Path.cwd() / 'noxfile.py'}']:\n"
            f"    try:\n        open(p, 'a').write('forged'); print('WROTE', p)\n"
            f"    except OSError as e: print('refused', p, type(e).__name__)")
    outcome, log = _run(tmp_path, code)
    assert outcome.returncode == 0 and "\nWROTE" not in log and log.count("refused") == 4, log
    assert victim.read_text() == "honest" and (tmp_path / "work" / "ok.txt").is_file()


def test_root_home_is_invisible(tmp_path):
    # a file planted in root's home for this test: the host must really have it for the test to mean anything
    planted = Path("/root") / f".wheelrepro-secret-{tmp_path.name}"
    planted.write_text("root only")
    try:
        assert planted.is_file()
        outcome, log = _run(tmp_path, "import os; print('home:', sorted(os.listdir('/root')))")
    finally:
        planted.unlink()
    assert outcome.returncode == 0 and "home: " in log
    assert planted.name not in log


def test_nothing_it_starts_survives_it(tmp_path):
    marker = tmp_path / "work" / "alive"
    # the detached loop touches the marker at once, and the build waits until it has: it surely ran
    code = ("import os, subprocess, time\n"
            f"subprocess.Popen(['sh', '-c', 'setsid sh -c \"while true; do touch {marker}; sleep 0.2; done\" &'])\n"
            f"while not os.path.exists({str(marker)!r}): time.sleep(0.05)\n"
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
