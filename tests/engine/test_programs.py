"""The tracker's helper programs: a session of their own, and an interrupt signal is an interrupt."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline.engine import programs

KILLS_ITSELF = "import os, signal; os.kill(os.getpid(), signal.{})"


def test_a_helper_runs_in_a_session_of_its_own():
    done = programs.run([sys.executable, "-c", "import os; print(os.getsid(0), os.getpgrp())"],
                        capture_output=True, text=True, check=True)
    session, group = map(int, done.stdout.split())
    assert session != os.getsid(0) and group != os.getpgrp(), "a terminal's Ctrl-C does not reach it"


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("check", [True, False])
def test_a_helper_ended_by_an_interrupt_signal_interrupts_and_is_no_failure(name, check):
    with pytest.raises(programs.Interrupted, match="ended by signal"):
        programs.run([sys.executable, "-c", KILLS_ITSELF.format(name)], capture_output=True, check=check)


def test_any_other_ending_is_the_callers_to_judge():
    assert programs.run([sys.executable, "-c", "raise SystemExit(3)"], capture_output=True).returncode == 3
    with pytest.raises(subprocess.CalledProcessError):
        programs.run([sys.executable, "-c", KILLS_ITSELF.format("SIGKILL")], capture_output=True, check=True)
