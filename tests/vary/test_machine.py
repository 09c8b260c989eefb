"""What this machine can vary, tried inside the real sandbox: faketime, one CPU, a usable locale."""

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


def _in_sandbox(settings: BuildSettings, code: str, tmp_path: Path) -> str:
    if sandbox.sandbox_works() is not None:
        pytest.skip("needs bubblewrap")
    spec = sandbox.Spec(argv=(*settings.wrapper, "/usr/bin/python3", "-c", code), env={"PATH": "/usr/bin:/bin"},
                        cwd="/", uid=settings.uid, cpus=settings.cpus, hostname=settings.hostname)
    log = tmp_path / "log"
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
