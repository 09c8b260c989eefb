"""diffoscope (Debian package diffoscope-minimal) as an optional, time-limited HTML report."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DiffoscopeReport:
    """The report's path, or None with the reason there is none (missing, timeout, identical...)."""

    html: Path | None
    reason: str
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {"html": str(self.html) if self.html else None, "reason": self.reason, "seconds": round(self.seconds, 3)}


def find_diffoscope() -> str | None:
    return shutil.which("diffoscope")


def run_diffoscope(
    a: Path, b: Path, html_out: Path, timeout: float = 300.0, *, executable: str | None = None
) -> DiffoscopeReport:
    """Write diffoscope's HTML report on ``a`` vs ``b`` to ``html_out`` within ``timeout`` seconds.

    Never raises for diffoscope's own failures: a missing tool, a timeout or a crash give a report
    whose ``html`` is None and whose ``reason`` says why.  The file appears atomically or not at all.
    """
    tool = executable or find_diffoscope()
    if tool is None:
        return DiffoscopeReport(None, "diffoscope is not installed (Debian: apt-get install diffoscope-minimal)")
    html_out.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=".diffoscope-", suffix=".html", dir=html_out.parent)
    os.close(fd)
    # diffoscope's own --timeout only stops recursing; the hard limit is ours
    command = [tool, "--html", partial, "--no-progress", "--timeout", str(max(1, int(timeout * 0.8))), str(a), str(b)]
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=_env()
        )
    except OSError as error:
        os.unlink(partial)
        return DiffoscopeReport(None, f"diffoscope could not start: {error}")
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only diffoscope and its children
        process.wait()
        os.unlink(partial)
        return DiffoscopeReport(None, f"diffoscope timed out after {timeout:g} s", time.monotonic() - started)
    seconds = time.monotonic() - started
    if process.returncode == 0:
        os.unlink(partial)
        return DiffoscopeReport(None, "diffoscope found no differences", seconds)
    if process.returncode != 1 or os.path.getsize(partial) == 0:
        os.unlink(partial)
        last = (stderr or b"").decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        return DiffoscopeReport(None, f"diffoscope failed (exit {process.returncode}): {last[0][:200]}", seconds)
    os.replace(partial, html_out)
    return DiffoscopeReport(html_out, "", seconds)


def _env() -> dict[str, str]:
    # a fixed locale keeps the report's text stable between runs
    env = dict(os.environ)
    env.update(LC_ALL="C.UTF-8", TZ="UTC")
    return env
