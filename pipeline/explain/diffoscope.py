"""diffoscope (Debian package diffoscope-minimal) as an optional, confined, time-limited HTML report.

diffoscope unpacks both wheels, nested archives included, and runs dozens of tools over what a
build wrote: it is given the build's treatment.  It runs in the sandbox as a leased build uid with
the build's limits (time, memory, processes, file size, a size-capped private /tmp), the two wheels
bound read-only and only an empty output folder writable; root then reads the report back without
following links, as one regular file under a size cap.  Where bubblewrap cannot be used
(unsandboxed runs), it runs directly as before, under the same rlimits.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ContextManager

from ..engine import sandbox
from ..errors import SandboxUnavailable

#: what diffoscope is asked to keep its report under, and the most that is read back
REPORT_BYTES = 32 * 1024 * 1024
READ_CAP = 40 * 1024 * 1024
#: archives inside archives are unpacked this deep at most (diffoscope's default is 50)
CONTAINER_DEPTH = 8
#: where the sandbox sees the tool, the wheels and the output folder, whatever the host's paths
INSIDE = "/tmp/wheelrepro-diffoscope"
REPORT = "report.html"


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


@functools.lru_cache(maxsize=1)
def default_backend() -> sandbox.Backend:
    """bubblewrap when it works here (probed once), else running directly."""
    try:
        return sandbox.choose_backend(unsandboxed=False)
    except SandboxUnavailable:
        return sandbox.BACKENDS["none"]()


def run_diffoscope(
    a: Path, b: Path, html_out: Path, timeout: float = 300.0, *, executable: str | None = None,
    backend: sandbox.Backend | None = None,
) -> DiffoscopeReport:
    """Write diffoscope's HTML report on ``a`` vs ``b`` to ``html_out`` within ``timeout`` seconds.

    Never raises for diffoscope's own failures: a missing tool, a timeout, a crash or a report that
    is not one regular file under the cap give a report whose ``html`` is None and whose ``reason``
    says why.  The file appears atomically or not at all.
    """
    tool = shutil.which(executable) if executable else find_diffoscope()
    if tool is None:
        if executable:
            return DiffoscopeReport(None, f"diffoscope could not start: {executable} not found")
        return DiffoscopeReport(None, "diffoscope is not installed (Debian: apt-get install diffoscope-minimal)")
    backend = backend or default_backend()
    html_out = Path(html_out).absolute()
    html_out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".diffoscope-", dir=html_out.parent))  # root's, 0700
    try:
        try:
            with _uid(backend) as uid:
                outcome = _confined(Path(tool).absolute(), Path(a).absolute(), Path(b).absolute(), work, uid,
                                    backend, timeout)
        except (OSError, SandboxUnavailable) as error:
            return DiffoscopeReport(None, f"diffoscope could not start: {error}")
        if outcome.timed_out:
            return DiffoscopeReport(None, f"diffoscope timed out after {timeout:g} s", outcome.seconds)
        if outcome.returncode == 0:
            return DiffoscopeReport(None, "diffoscope found no differences", outcome.seconds)
        data, problem = read_report(work / "out")
        if outcome.returncode != 1 or (data is None and problem == "it wrote no report"):
            return DiffoscopeReport(None, f"diffoscope failed (exit {outcome.returncode}): {_last_line(work / 'log')}",
                                    outcome.seconds)
        if data is None:
            return DiffoscopeReport(None, f"diffoscope's report refused: {problem}", outcome.seconds)
        _write_atomically(html_out, data)
        return DiffoscopeReport(html_out, "", outcome.seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # fd-based: never follows a link the sandbox left


def _uid(backend: sandbox.Backend) -> ContextManager[int]:
    """A leased build uid for the sandbox; running directly, diffoscope is whoever we are."""
    return sandbox.lease_uid() if backend.isolated else contextlib.nullcontext(os.geteuid())


def _confined(tool: Path, a: Path, b: Path, work: Path, uid: int, backend: sandbox.Backend,
              timeout: float) -> sandbox.Outcome:
    """The one diffoscope run: the wheels read-only, only ``work/out`` writable, the build's limits."""
    out = work / "out"
    out.mkdir(mode=0o700)
    if backend.isolated:
        sandbox.own_for_build(out, uid)
    mounts = {
        "tool": sandbox.Mount(str(tool), target=f"{INSIDE}/bin/diffoscope"),
        "a": sandbox.Mount(_readable(a, work / "a"), target=f"{INSIDE}/a/{a.name}"),
        "b": sandbox.Mount(_readable(b, work / "b"), target=f"{INSIDE}/b/{b.name}"),
        "out": sandbox.Mount(str(out), writable=True, target=f"{INSIDE}/out"),
    }
    # the constant paths; without the sandbox, engine.hostpaths translates them to the host's
    at = {key: m.inside for key, m in mounts.items()}
    home_path = f"{INSIDE}/home"
    argv = (at["tool"], "--html", f"{at['out']}/{REPORT}", "--no-progress",
            # diffoscope's own --timeout only stops recursing; the hard limit is the sandbox's
            "--timeout", str(max(1, int(timeout * 0.8))), "--max-report-size", str(REPORT_BYTES),
            "--max-page-size", str(REPORT_BYTES), "--max-container-depth", str(CONTAINER_DEPTH), at["a"], at["b"])
    # a fixed locale and zone keep the report's text stable between runs
    env = sandbox.scrubbed_env({"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC", "HOME": home_path,
                                "TMPDIR": "/tmp"}, [])
    spec = sandbox.Spec(argv=argv, env=env, cwd=home_path, mounts=tuple(mounts.values()), network=False, uid=uid,
                        dirs=(home_path,))
    return sandbox.run(backend, spec, sandbox.Limits(timeout=timeout), work / "log")


def _readable(path: Path, copy: Path) -> str:
    """The wheel as the build uid may read it: itself when others may, else a root-made copy."""
    if os.stat(path).st_mode & stat.S_IROTH:
        return str(path)
    shutil.copyfile(path, copy)
    copy.chmod(0o644)
    return str(copy)


def read_report(folder: Path, cap: int | None = None) -> tuple[bytes | None, str]:
    """The report the confined run wrote in ``folder``, read as root without following links: one
    regular file with one link, at most ``cap`` bytes; or None and why not."""
    cap = READ_CAP if cap is None else cap
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            fd = os.open(REPORT, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                         dir_fd=directory)
        except FileNotFoundError:
            return None, "it wrote no report"
        except OSError as error:  # ELOOP: a symbolic link, perhaps to a root-only file
            return None, f"{REPORT} is not a file that can be read safely ({os.strerror(error.errno or 0)})"
    finally:
        os.close(directory)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, f"{REPORT} is not a regular file"
        if info.st_nlink != 1:
            return None, f"{REPORT} has {info.st_nlink} links"
        data = handle.read(cap + 1)
    if len(data) > cap:
        return None, f"{REPORT} is over the {cap // (1024 * 1024)} MiB cap"
    return data, ""


def _write_atomically(path: Path, data: bytes) -> None:
    fd, partial = tempfile.mkstemp(prefix=".diffoscope-", suffix=".html", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise


def _last_line(log: Path) -> str:
    """diffoscope's last line of output (the tracker's own lines in the log skipped)."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - 65536))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return "no message"
    lines = [line.strip() for line in tail.splitlines()
             if line.strip() and not line.startswith(("[tracker:", "$ ", "[log truncated"))]
    return lines[-1][:200] if lines else "no message"
