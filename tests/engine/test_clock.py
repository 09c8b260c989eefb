"""The second build's clock: moved by the preload library, seen by Python, date and rustc alike."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from pipeline.engine import clock

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")


def test_the_library_moves_realtime_and_nothing_else(tmp_path):
    library = clock.compiled(tmp_path, 3723)
    assert library is not None and clock.compiled(tmp_path, 3723) == library, "made once"
    code = "import time; print(int(time.time()), int(time.monotonic()))"
    env = {**os.environ, "LD_PRELOAD": str(library)}
    moved = subprocess.run(["python3", "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
    real_now, real_mono = int(time.time()), int(time.monotonic())
    assert abs(int(moved[0]) - real_now - 3723) <= 2
    assert abs(int(moved[1]) - real_mono) <= 2, "monotonic time is not moved"
    date = subprocess.run(["date", "+%s"], capture_output=True, text=True, env=env, check=True).stdout
    assert abs(int(date) - int(time.time()) - 3723) <= 2


def test_the_sandbox_sees_it_through_its_own_preload_file(tmp_path):
    library = clock.compiled(tmp_path, 60)
    shown = clock.mounts(library)
    assert [m.inside for m in shown] == [clock.LIBRARY, "/etc/ld.so.preload"]
    assert open(shown[1].path).read() == f"{clock.LIBRARY}\n"


@pytest.mark.skipif(shutil.which("rustc") is None, reason="no Rust toolchain")
def test_rustc_starts_under_it(tmp_path):
    """libfaketime deadlocks rustc (jemalloc); this library must not."""
    library = clock.compiled(tmp_path, 3723)
    proc = subprocess.run(["rustc", "--version"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LD_PRELOAD": str(library)})
    assert proc.returncode == 0 and proc.stdout.startswith("rustc ")
