"""Hostile sdists, one per attack in docs/isolation.md: each attack fails and the run goes on with true verdicts.

Every test builds its fixture for real in the sandbox (tests/attacks.py) and checks both what the
attack saw from inside (written into its wheel) and what changed outside (nothing).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import socket
import stat
import subprocess
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.engine import sandbox
from pipeline.engine.interpreters import Interpreter
from pipeline.nightly.store import Store
from pipeline.records import Result
from tests.attacks import attack_sdist, findings
from tests.sdists import CARGO_LOCK, CARGO_TOML, intree_sdist

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sandbox.sandbox_works() is not None, reason=str(sandbox.sandbox_works()))]

ROOT = Path(__file__).resolve().parent.parent


def _snapshot(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and not p.is_symlink() and "builds" not in p.parts}


def _unchanged(before: dict[str, str], after: dict[str, str]) -> None:
    changed = {k for k in before if after.get(k) != before[k]}
    assert not changed, f"a build changed {sorted(changed)}"


def _owned_by_builds(*folders: Path) -> list[str]:
    """Files a build uid owns on the host: there must be none after a check."""
    found = []
    for folder in folders:
        for path in folder.rglob("*") if folder.exists() else ():
            if os.lstat(path).st_uid >= sandbox.UID_BASE:
                found.append(str(path))
    return found


def _check(checker, interpreter: Interpreter, name: str):
    return checker.check(checker.target(name), interpreter)


@pytest.fixture
def py(interpreters) -> Interpreter:
    return interpreters.get("3.11") or next(iter(interpreters.values()))


@pytest.fixture
def secret():
    """A root-only file in root's home, as a host would have one."""
    path = Path("/root") / f".wheelrepro-secret-{os.getpid()}-{threading.get_ident()}"
    path.write_text("root-only-secret-value")
    path.chmod(0o600)
    yield path
    path.unlink(missing_ok=True)


# -- 1. no writable state shared between builds of different releases ------------------------------


def test_a_requirement_planting_a_trojan_reaches_no_later_build(index, make_checker, py, shared_out, wheelhouse):
    """Was: a build requirement's setup.py put a wheel into its uid's pip cache; the next package installed it."""
    index.add("plantreq", "plantreq-1.0.tar.gz", attack_sdist("plantreq", "1.0", "plant", hook="plant"))
    index.add("planter", "planter-1.0.tar.gz", attack_sdist("planter", "1.0", "plant", requires=("plantreq",)))
    index.add("victim", "victim-1.0.tar.gz", attack_sdist("victim", "1.0", "plant", requires=("setuptools",)))
    checker = make_checker(index)
    planter = _check(checker, py, "planter")
    victim = _check(checker, py, "victim")

    assert planter.status == "reproducible", planter.message
    built = [line for line in planter.environment.requirements if line.startswith("plantreq==")]
    assert built and (shared_out / "cache" / "built" / built[0].rpartition("sha256:")[2]).is_dir(), \
        "the sdist-only requirement was built offline and locked by its wheel's digest"
    planted = [f for f in findings(planter) if f.startswith("planted in")][0]
    assert all(p.startswith(("/tmp", "/var/tmp", "/dev/shm")) for p in planted[len("planted in "):].split(",") if p)
    assert victim.status == "reproducible", victim.message
    setuptools = next(wheelhouse.glob("setuptools-*.whl"))
    assert f"--hash=sha256:{hashlib.sha256(setuptools.read_bytes()).hexdigest()}" in victim.environment.requirements[0]
    assert _owned_by_builds(shared_out) == [], "a file a build wrote survived on the host"
    assert not (shared_out / "cache" / "pip").exists()


# -- 2. a CPU share per build --------------------------------------------------------------------


def test_a_neighbours_cpu_hog_does_not_turn_an_innocent_build_into_a_timeout(index, make_checker, py):
    """Was: 48 spinning children, each in its own session, beside a --jobs 2 run starved the other check."""
    index.add("hog", "hog-1.0.tar.gz", attack_sdist("hog", "1.0", "hog", spinners=48, seconds=35))
    index.add("innocent", "innocent-1.0.tar.gz", attack_sdist("innocent", "1.0", "spin", cpu=2.0))
    checker = make_checker(index, timeout=30.0)
    targets = [checker.target("hog"), checker.target("innocent")]
    _check(make_checker(index), py, "innocent")  # the environment is made before the race
    with ThreadPoolExecutor(max_workers=2) as pool:
        hog, innocent = pool.map(lambda target: checker.check(target, py), targets)

    assert innocent.status == "reproducible", innocent.message
    assert "again alone" not in innocent.controls["pair"], "it kept its share of the CPU with the hog beside it"
    assert hog.status in ("reproducible", "timeout")


# -- 3. memory for the whole build, caps on every writable mount ---------------------------------


def test_memory_is_capped_for_the_whole_build_not_each_process(index, make_checker, py):
    """Was: four processes held 2.8 GiB with --memory 1 (RLIMIT_AS counts one process)."""
    index.add("hoarder", "hoarder-1.0.tar.gz", attack_sdist("hoarder", "1.0", "memory", processes=4, mib=700))
    result = _check(make_checker(index, memory=1024**3), py, "hoarder")

    assert result.status == "build-failed" and "out of memory" in result.message, result.message
    assert "built again alone" in result.controls["pair"], "an out-of-memory failure is confirmed alone"


@pytest.mark.parametrize("where", [[["/dev/shm/x", 0, 1500]], [["/var/tmp/x", 0, 1500]],
                                   [["BUILD/many", 200_000, 0], ["BUILD/big", 0, 1500]]])
def test_tmpfs_and_the_build_folder_are_capped_and_leave_nothing_behind(index, make_checker, py, shared_out, where):
    """Was: /dev/shm and /var/tmp uncapped; 4.5 GiB and 200,000 files of a build folder left on the host."""
    name = f"filler{len(where[0][0])}{where[0][1]}"
    index.add(name, f"{name}-1.0.tar.gz", attack_sdist(name, "1.0", "fill", where=where))
    checker = make_checker(index)
    checker.limits = dataclasses.replace(checker.limits, memory=1024**3, tmp_size=512 * sandbox.MiB,
                                         shm_size=256 * sandbox.MiB)
    result = _check(checker, py, name)

    assert result.status == "build-failed", result.message
    log = Path(result.builds[0].log).read_text()
    assert "ENOSPC" in log or "out of memory" in result.message
    assert not Path(result.builds[0].build_dir).exists(), "the build folder is not on the host"
    leftovers = sum(p.stat().st_size for p in shared_out.rglob("*") if p.is_file() and not p.is_symlink())
    assert leftovers < 512 * sandbox.MiB


# -- 4 and 5. root never follows a path a build could have touched -------------------------------


@pytest.mark.skipif(shutil.which("cargo") is None, reason="no Rust toolchain on this machine")
def test_a_planted_crate_marker_link_makes_root_write_nothing(index, make_checker, interpreters, secret):
    """Was: a build replaced out/cache/cargo/<sha>/.fetched by a link; the next check wrote through it into /root."""
    target = Path("/root") / f"wheelrepro-pwned-{os.getpid()}"
    files = {"rs/Cargo.toml": CARGO_TOML.encode(), "rs/Cargo.lock": CARGO_LOCK.encode(), "rs/lib.rs": b""}
    index.add("crater", "crater-1.0.tar.gz", attack_sdist("crater", "1.0", "cargo", target=str(target), files=files))
    checker = make_checker(index)
    pythons = [interpreters[m] for m in ("3.11", "3.12", "3.13") if m in interpreters][:2]
    results = [_check(checker, python, "crater") for python in pythons]

    assert all(r.status == "reproducible" for r in results), [r.message for r in results]
    assert not target.exists() and not target.is_symlink()
    markers = list((checker.workspace.crates).glob("*.fetched"))
    assert markers and all(m.is_file() and not m.is_symlink() and m.stat().st_uid == 0 for m in markers)


def test_links_a_build_plants_are_never_read_by_root(index, make_checker, py, secret, shared_out):
    """Was: a build requirement replaced pip's --report file by a link; root read a root-only file into the lock."""
    spots = ["BUILD/report.json", "/tmp/report.json", "HOME/report.json", "/tmp/dist/report.json",
             "BUILD/dist/links-1.0-py3-none-any.whl"]
    index.add("links", "links-1.0.tar.gz",
              attack_sdist("links", "1.0", "links", hook="links", requires_at_hook=("setuptools",), at=spots,
                           target=str(secret)))
    result = _check(make_checker(index), py, "links")

    assert result.status == "reproducible", result.message
    for path in shared_out.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert b"root-only-secret-value" not in path.read_bytes(), f"the secret reached {path}"
    assert "root-only-secret-value" not in str(result.to_json())


# -- 7 and 8. a minimal root: no host files, no host sockets -------------------------------------


def test_the_host_filesystem_is_not_there(index, make_checker, py, secret, shared_out, tmp_path):
    """Was: / bound read-only, so every world-readable file (other checkouts, /srv data) was readable."""
    world = tmp_path / "world-readable.txt"
    world.write_text("other user's data")
    world.chmod(0o644)
    reads = [str(ROOT / "README.md"), str(world), "/srv", "/home", "/etc/shadow", "/etc/hostname", str(secret),
             str(shared_out / "results.sqlite"), "/proc/1/environ", "/run/dbus/system_bus_socket", "/var/lib/dpkg/status"]
    index.add("reader", "reader-1.0.tar.gz", attack_sdist("reader", "1.0", "escape", read=reads))
    result = _check(make_checker(index), py, "reader")

    assert result.status == "reproducible", result.message
    seen = findings(result)
    assert not any(f.startswith("read ") for f in seen), seen
    root = [f for f in seen if f.startswith("root: ")][0]
    assert set(root[len("root: "):].split(",")) <= {"bin", "dev", "etc", "lib", "lib64", "opt", "proc", "sbin", "sys",
                                                    "tmp", "usr", "var", "lib32", "libx32"}


@pytest.fixture
def host_sockets():
    """A listening pathname socket under /run and an abstract one, as D-Bus or docker would have."""
    path = f"/run/wheelrepro-test-{os.getpid()}.sock"
    listeners = []
    for where in (path, "\0" + path.lstrip("/")):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(where)
        server.listen(5)
        listeners.append(server)
    os.chmod(path, 0o777)
    yield path
    for server in listeners:
        server.close()
    os.unlink(path)


def test_host_unix_sockets_cannot_be_reached(index, make_checker, py, host_sockets):
    """Was: a pathname socket under the read-only root was connectable from the offline build."""
    index.add("socketeer", "socketeer-1.0.tar.gz", attack_sdist("socketeer", "1.0", "sockets", unix=[host_sockets]))
    result = _check(make_checker(index), py, "socketeer")

    assert result.status == "reproducible", result.message
    seen = findings(result)
    assert len(seen) == 2 and all(f.startswith("refused") for f in seen), seen


# -- 9. no package code with the network ---------------------------------------------------------


def test_an_sdist_only_requirement_is_built_offline_and_cannot_phone_home(index, make_checker, py):
    """Was: a build requirement's setup.py ran during pip's resolve/install step, with the network, and sent a file."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    index.add("phonereq", "phonereq-1.0.tar.gz",
              attack_sdist("phonereq", "1.0", "phone", hook="phone", host="127.0.0.1", port=port))
    index.add("caller", "caller-1.0.tar.gz", attack_sdist("caller", "1.0", requires=("phonereq",)))
    result = _check(make_checker(index), py, "caller")
    try:
        connection, _ = listener.accept()
        connection.close()
        called = True
    except (socket.timeout, OSError):
        called = False
    listener.close()

    assert result.status == "reproducible", result.message
    assert not called, "package code reached the network"
    assert any(line.startswith("phonereq==1.0 --hash=sha256:") for line in result.environment.requirements)


# -- 10. seccomp -----------------------------------------------------------------------------------


def test_no_user_namespaces_mounts_keyrings_bpf_or_ptrace_inside_a_build(index, make_checker, py):
    """Was: `unshare -Ur` succeeded inside the build (no seccomp filter)."""
    index.add("kernel", "kernel-1.0.tar.gz", attack_sdist("kernel", "1.0", "kernel"))
    result = _check(make_checker(index), py, "kernel")

    assert result.status == "reproducible", result.message
    seen = dict(f.split(": ", 1) for f in findings(result))
    assert seen.pop("fork") == "allowed"
    assert all(v.startswith("refused") for v in seen.values()), seen


# -- what held, and must keep holding ------------------------------------------------------------


def test_writing_into_the_store_caches_locks_venvs_and_wheelhouse_fails(index, make_checker, py, shared_out,
                                                                        wheelhouse):
    (shared_out / "site").mkdir(exist_ok=True)
    (shared_out / "site" / "index.html").write_text("<p>honest site</p>")
    with Store.open(shared_out) as store:  # a real store: later tests share this out/
        store.add(Result(name="honest", version="1", python="3.11.7", interpreter="cp311", status="reproducible",
                         started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z", reproduce="r"))
    index.add("calm", "calm-1.0.tar.gz", intree_sdist("calm", "1.0"))
    checker = make_checker(index)
    calm = _check(checker, py, "calm")
    venv = Path(calm.environment.path)
    writes = [str(shared_out / "results.sqlite"), str(shared_out / "site" / "index.html"), "/etc/hostname",
              str(next(wheelhouse.glob("*.whl"))), str(venv / "pyvenv.cfg"), "/opt/venv/pyvenv.cfg",
              "/opt/venv/bin/python", str(next((shared_out / "cache" / "sdists").rglob("*.tar.gz"))),
              f"/opt/python/{py.tag}/bin/python{py.minor}", "/opt/wheelrepro/inside.py"]
    index.add("forger", "forger-1.0.tar.gz", attack_sdist("forger", "1.0", "escape", write=writes))
    before = _snapshot(shared_out)
    result = _check(checker, py, "forger")

    assert result.status == "reproducible", result.message
    assert not any(f.startswith("wrote") for f in findings(result)), findings(result)
    _unchanged(before, _snapshot(shared_out))


def test_signals_and_ptrace_reach_no_other_build(index, make_checker, py):
    index.add("killer", "killer-1.0.tar.gz", attack_sdist("killer", "1.0", "signals"))
    index.add("bystander", "bystander-1.0.tar.gz", attack_sdist("bystander", "1.0", "spin", cpu=1.0))
    checker = make_checker(index)
    with ThreadPoolExecutor(max_workers=2) as pool:
        killer, bystander = pool.map(lambda name: _check(checker, py, name), ["killer", "bystander"])
    assert bystander.status == "reproducible", bystander.message
    assert killer.status in ("reproducible", "unreproducible", "build-failed")


def test_a_secret_in_the_parent_environment_never_reaches_the_wheel(index, make_checker, py, monkeypatch):
    monkeypatch.setenv("PYPI_TOKEN", "pypi-fake-secret-123")
    index.add("snoop", "snoop-1.0.tar.gz", intree_sdist("snoop", "1.0", "env"))
    result = _check(make_checker(index), py, "snoop")
    text = zipfile.ZipFile(result.builds[0].path).read("snoop/__init__.py").decode()
    assert "SOURCE_DATE_EPOCH" in text and "fake-secret" not in text and "PYPI_TOKEN" not in text
    assert result.status == "reproducible", "the second build's moved clock shows in no variable"


def test_a_process_left_running_does_not_survive_the_build(index, make_checker, py):
    index.add("lingerer", "lingerer-1.0.tar.gz", intree_sdist("lingerer", "1.0", "daemon"))
    result = _check(make_checker(index), py, "lingerer")
    assert result.status == "reproducible"
    survivors = subprocess.run(["pgrep", "-f", "while true; do sleep 1"], capture_output=True, text=True).stdout
    assert survivors.strip() == ""


def test_a_fork_bomb_is_contained_and_the_run_goes_on(index, make_checker, py):
    index.add("bomber", "bomber-1.0.tar.gz", intree_sdist("bomber", "1.0", "forkbomb"))
    index.add("neighbour", "neighbour-1.0.tar.gz", intree_sdist("neighbour", "1.0"))
    checker = make_checker(index)
    checker.limits = dataclasses.replace(checker.limits, processes=64)
    with ThreadPoolExecutor(max_workers=2) as pool:
        bomb, neighbour = pool.map(lambda name: _check(checker, py, name), ["bomber", "neighbour"])
    assert neighbour.status == "reproducible", neighbour.message
    assert bomb.status in ("reproducible", "unreproducible", "build-failed")


def test_a_10_gb_file_is_stopped_at_the_cap(index, make_checker, py):
    index.add("filler", "filler-1.0.tar.gz", intree_sdist("filler", "1.0", "bigfile"))
    checker = make_checker(index)
    checker.limits = dataclasses.replace(checker.limits, file_size=64 * sandbox.MiB)
    result = _check(checker, py, "filler")
    assert result.status == "build-failed"
    assert "File size limit exceeded" in Path(result.builds[0].log).read_text() or "exited with" in result.message


@pytest.mark.parametrize("fixture, reason", [
    (lambda: intree_sdist("linker", "1.0", "symlink-wheel"), "not a regular file"),
    (lambda: attack_sdist("linker", "1.0", wheel_name="otherproject"), "is not a wheel of linker"),
])
def test_a_wheel_that_is_a_link_or_names_another_project_is_refused(index, make_checker, py, fixture, reason):
    index.add("linker", "linker-1.0.tar.gz", fixture())
    result = _check(make_checker(index), py, "linker")
    assert result.status == "build-failed" and reason in result.message
    assert result.builds[0].path is None


def test_a_huge_log_is_capped(index, make_checker, py):
    index.add("chatty", "chatty-1.0.tar.gz", attack_sdist("chatty", "1.0", "chatty", mib=40))
    checker = make_checker(index)
    checker.limits = dataclasses.replace(checker.limits, log_bytes=sandbox.MiB)
    result = _check(checker, py, "chatty")
    assert result.status == "reproducible", result.message
    log = Path(result.builds[0].log)
    assert log.stat().st_size < 2 * sandbox.MiB and "log truncated" in log.read_text(errors="replace")


def test_wheel_members_named_out_of_the_archive_write_nothing_when_compared(index, make_checker, py):
    tag = f"{os.getpid()}"
    members = (f"../../wheelrepro-escape-{tag}.txt", f"/tmp/wheelrepro-abs-{tag}.txt")
    index.add("climber", "climber-1.0.tar.gz", attack_sdist("climber", "1.0", "random", extra_members=members))
    result = _check(make_checker(index), py, "climber")
    assert result.status == "unreproducible" and result.differences
    keep = Path(result.builds[0].path).parent
    assert not Path(f"/tmp/wheelrepro-abs-{tag}.txt").exists()
    assert not any(Path(p).exists() for p in (keep.parent.parent / f"wheelrepro-escape-{tag}.txt",
                                               keep.parent / f"wheelrepro-escape-{tag}.txt"))


# -- the clock of a pair built at once ------------------------------------------------------------


@pytest.mark.parametrize("attack", ["clock", "clock-zip"])
def test_a_build_stamped_from_the_clock_is_unreproducible_with_the_builds_at_once(index, make_checker, py, attack):
    """Two builds at once read the same clock; the second one's is ahead, so this still differs, as in a row."""
    name = attack.replace("-", "")
    index.add(name, f"{name}-1.0.tar.gz", attack_sdist(name, "1.0", attack))
    result = _check(make_checker(index), py, name)
    assert result.controls["pair"].startswith("at once"), result.controls["pair"]
    assert result.status == "unreproducible", result.message
    assert result.builds[0].seconds and result.builds[1].seconds


def test_after_the_checks_no_cgroup_of_ours_is_left(index, make_checker, py):
    from pipeline.engine import cgroups

    index.add("calm2", "calm2-1.0.tar.gz", intree_sdist("calm2", "1.0"))
    assert _check(make_checker(index), py, "calm2").status == "reproducible"
    where = cgroups.support()
    for _, parent in where.parents:
        assert [name for name in os.listdir(parent) if name.startswith("build-")] == []
        assert stat.S_ISDIR(os.stat(parent).st_mode)
