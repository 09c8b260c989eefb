"""What this machine can vary, tried inside the real sandbox: the clock (the tracker's library, libfaketime),
one CPU, a usable locale."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from pipeline import vary
from pipeline.engine import sandbox
from pipeline.engine.build import BuildSettings

BASE = BuildSettings(build_dir=Path("/tmp/wheelrepro/cp311/pkg-1.0"))


def _spec(settings: BuildSettings, code: str) -> sandbox.Spec:
    if sandbox.sandbox_works() is not None:
        pytest.skip("needs bubblewrap")
    return sandbox.Spec(argv=(*settings.wrapper, "/usr/bin/python3", "-c", code), env={"PATH": "/usr/bin:/bin"},
                        cwd="/", uid=settings.uid, cpus=settings.cpus, hostname=settings.hostname, mounts=settings.mounts,
                        domainname=settings.domainname,
                        reordered=str(settings.build_dir.parent) if settings.reordered else None)


def _in_sandbox(settings: BuildSettings, code: str, tmp_path: Path) -> str:
    spec = _spec(settings, code)
    log = tmp_path / "log"
    log.unlink(missing_ok=True)
    outcome = sandbox.run(sandbox.BACKENDS["bubblewrap"](), spec, sandbox.Limits(timeout=60), log)
    assert outcome.returncode == 0, log.read_text()
    return log.read_text().splitlines()[1]


@pytest.fixture(scope="module")
def machine(tmp_path_factory, sandboxed):
    return vary.probe_machine(tmp_path_factory.mktemp("locales"), isolated=sandboxed)


def test_libfaketime_moves_the_clock_inside_bubblewrap(tmp_path):
    machine = vary.Machine(isolated=True, faketime=vary.faketime_library())
    if machine.faketime is None:
        pytest.skip("faketime is not installed")
    settings = vary.vary(BASE, ["time"], machine)
    shifted = float(_in_sandbox(settings, "import time; print(time.time())", tmp_path))
    assert 399 * 86400 < shifted - time.time() < 401 * 86400


def test_the_trackers_clock_library_moves_the_clock_400_days_inside_bubblewrap_with_nothing_in_the_environment(
        tmp_path):
    machine = vary.probe_machine(tmp_path / "locales", isolated=True, clock_cache=tmp_path / "clock")
    if not machine.clock:
        pytest.skip("no C compiler for the clock library")
    settings = vary.vary(BASE, ["time"], machine)
    code = "import os, time; print(time.time(), sorted(k for k in os.environ if 'PRELOAD' in k or 'FAKE' in k))"
    shifted, variables = _in_sandbox(settings, code, tmp_path).split(" ", 1)
    assert 399 * 86400 < float(shifted) - time.time() < 401 * 86400
    assert variables == "[]", "the clock moves without a variable the build could see"


def test_one_cpu_is_what_the_build_sees_inside_bubblewrap(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("this machine has one CPU")
    settings = vary.vary(BASE, ["cpu_count"], vary.Machine(isolated=True, cpus=frozenset(os.sched_getaffinity(0))))
    seen = _in_sandbox(settings, "import os; print(os.cpu_count(), len(os.sched_getaffinity(0)))", tmp_path)
    assert seen == "1 1"


def test_the_locale_chosen_is_usable(tmp_path):
    variables, folder = vary.choose_locale(tmp_path / "locales")
    env = {"PATH": "/usr/bin:/bin", **variables}
    out = subprocess.run(["/usr/bin/python3", "-c", "import locale; print(locale.setlocale(locale.LC_ALL, ''))"],
                         env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == variables["LC_ALL"] != "C.UTF-8"


SEEN = {  # variation -> what the build reads to see it
    "kernel": "import os; print(os.uname().release)",
    "aslr": "print(int(open('/proc/self/personality').read(), 16) & 0x0040000)",
    "domain": "print(open('/proc/sys/kernel/domainname').read().strip())",
}


@pytest.mark.parametrize("name", SEEN)
def test_the_build_sees_the_variation_inside_bubblewrap(name, tmp_path, machine):
    if name in vary.unavailable(BASE, machine):
        pytest.skip(vary.unavailable(BASE, machine)[name])
    controlled = _in_sandbox(BASE, SEEN[name], tmp_path)
    varied = _in_sandbox(vary.vary(BASE, [name], machine), SEEN[name], tmp_path)
    assert varied != controlled
    assert varied == {"kernel": varied, "aslr": str(0x0040000), "domain": vary.DOMAIN}[name]


LISTING = ("import os; tree = {tree!r}; os.makedirs(tree); "
           "[open(os.path.join(tree, name), 'w').close() for name in 'abcdef']; print(','.join(os.listdir(tree)))")


def test_file_order_reverses_what_the_build_lists_and_nothing_stays_mounted(tmp_path, machine):
    if "file_order" in vary.unavailable(BASE, machine):
        pytest.skip(vary.unavailable(BASE, machine)["file_order"])
    moved = vary.vary(BASE, ["build_path"], machine)
    reordered = vary.vary(BASE, ["file_order"], machine)
    controlled, elsewhere, reordered = (_in_sandbox(s, LISTING.format(tree=str(s.build_dir)), tmp_path)
                                        for s in (BASE, moved, reordered))

    assert sorted(reordered.split(",")) == sorted(controlled.split(",")) == list("abcdef")
    assert reordered.split(",") == controlled.split(",")[::-1], "the same entries, the other way round"
    assert elsewhere == controlled, "build_path alone keeps the order"
    # a build killed at its timeout leaves no disorderfs behind (its mount lived in the sandbox's namespace)
    spec = _spec(vary.vary(BASE, ["file_order"], machine), "import time; time.sleep(60)")
    outcome = sandbox.run(sandbox.BACKENDS["bubblewrap"](), spec, sandbox.Limits(timeout=2), tmp_path / "slow.log")
    assert outcome.timed_out
    assert subprocess.run(["pgrep", "-x", "disorderfs"], capture_output=True).returncode == 1
    assert "disorderfs" not in Path("/proc/self/mounts").read_text()
