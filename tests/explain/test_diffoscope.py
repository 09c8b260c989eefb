"""diffoscope as an optional, time-limited report: it may be missing, slow or broken, never fatal; it
runs confined as a build uid, and what it leaves is read back as hostile output."""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from pathlib import Path

import pytest

from pipeline.engine import sandbox
from pipeline.explain import compare_wheels, diffoscope
from pipeline.explain.diffoscope import INSIDE, run_diffoscope
from tests.conftest import ROOT


def _wheels(tmp_path: Path) -> tuple[Path, Path]:
    paths = []
    for name, text in (("a.whl", b'P = "/tmp/build-1/x"\n'), ("b.whl", b'P = "/tmp/build-2/x"\n')):
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            archive.writestr(zipfile.ZipInfo("demo/_p.py", (2020, 1, 1, 0, 0, 0)), text)
        paths.append(tmp_path / name)
    return paths[0], paths[1]


@pytest.fixture
def backend() -> sandbox.Backend:
    """bubblewrap, or a skip saying why it cannot be used here."""
    reason = sandbox.sandbox_works()
    if reason:
        pytest.skip(f"the sandbox is unavailable: {reason}")
    return sandbox.BACKENDS["bubblewrap"]()


def _fake(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-diffoscope"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.skipif(shutil.which("diffoscope") is None, reason="diffoscope is not installed")
def test_real_diffoscope_writes_html(tmp_path: Path) -> None:
    a, b = _wheels(tmp_path)
    comparison = compare_wheels(a, b, diffoscope_dir=tmp_path / "reports", diffoscope_timeout=120)
    report = comparison.diffoscope
    assert report is not None and report.html is not None, report
    text = report.html.read_text()
    assert "<html" in text.lower() and "demo/_p.py" in text
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["a.whl--b.whl.diffoscope.html"]


def test_missing_diffoscope_gives_a_reason(tmp_path: Path) -> None:
    a, b = _wheels(tmp_path)
    report = run_diffoscope(a, b, tmp_path / "r.html", executable=str(tmp_path / "no-such-tool"))
    assert report.html is None and "could not start" in report.reason
    assert list(tmp_path.glob("*.html")) == [] and list(tmp_path.glob(".diffoscope-*")) == []


def _running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("confined", [False, True], ids=["unsandboxed", "sandboxed"])
def test_timeout_kills_it_and_everything_it_started(tmp_path: Path, confined: bool, request) -> None:
    a, b = _wheels(tmp_path)
    # the child outlives the shell unless the whole session (or pid namespace) is killed
    tool = _fake(tmp_path, "sleep 31.25 & sleep 30")
    backend = request.getfixturevalue("backend") if confined else sandbox.BACKENDS["none"]()
    report = run_diffoscope(a, b, tmp_path / "r.html", timeout=0.5, executable=tool, backend=backend)
    assert report.html is None and "timed out after 0.5 s" in report.reason
    assert report.seconds < 5
    assert not (tmp_path / "r.html").exists() and list(tmp_path.glob(".diffoscope-*")) == []
    time.sleep(0.5)
    assert _running("31.25") == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("exit 0", "found no differences"),
        ("echo 'Traceback: boom' >&2; exit 2", "failed (exit 2): Traceback: boom"),
    ],
)
def test_other_outcomes_have_reasons(body: str, reason: str, tmp_path: Path) -> None:
    a, b = _wheels(tmp_path)
    report = run_diffoscope(a, b, tmp_path / "r.html", executable=_fake(tmp_path, body))
    assert report.html is None and reason in report.reason


def test_identical_wheels_never_run_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, _ = _wheels(tmp_path)
    monkeypatch.setenv("PATH", os.defpath)
    comparison = compare_wheels(a, a, diffoscope_dir=tmp_path / "reports")
    assert comparison.identical and comparison.diffoscope is None
    assert not (tmp_path / "reports").exists()


# -- confined: the build uid, the build's limits, and a report read back as hostile output ----------------


@pytest.mark.skipif(shutil.which("diffoscope") is None, reason="diffoscope is not installed")
def test_real_diffoscope_runs_in_the_sandbox_at_constant_paths(tmp_path: Path, backend) -> None:
    a, b = _wheels(tmp_path)
    report = run_diffoscope(a, b, tmp_path / "reports" / "r.html", 120, backend=backend)
    assert report.html is not None, report.reason
    text = report.html.read_text()
    assert f"{INSIDE}/a/a.whl" in text and f"{INSIDE}/b/b.whl" in text and "demo/_p.py" in text
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["r.html"]


def test_it_runs_as_a_build_uid_that_cannot_write_the_wheels_or_the_host(tmp_path: Path, backend) -> None:
    a, b = _wheels(tmp_path)
    a.chmod(0o666)  # only the read-only binding stops the write
    before = a.read_bytes()
    # a folder anyone may write, on the host (hidden in the sandbox when the checkout is under /tmp)
    open_dir = ROOT / f".diffoscope-escape-{os.getpid()}"
    open_dir.mkdir(mode=0o777)
    open_dir.chmod(0o1777)
    try:
        tool = _fake(tmp_path, f"""for last; do :; done
{{ echo "uid=$(id -u)"; for input in "$(dirname "$last")"/../a/*; do echo x >> "$input" && echo wrote-input; done
touch {open_dir}/pwned && echo wrote-host; }} > "$2" 2>&1
exit 1""")
        report = run_diffoscope(a, b, tmp_path / "r.html", 60, executable=tool, backend=backend)
        assert report.html is not None, report.reason
        text = report.html.read_text()
        escaped = (open_dir / "pwned").exists()
    finally:
        shutil.rmtree(open_dir)
    uid = int(text.split("uid=")[1].split()[0])
    assert sandbox.UID_BASE <= uid < sandbox.UID_BASE + sandbox.UID_POOL
    assert "wrote-input" not in text and f"{INSIDE}/b/../a/a.whl: Read-only file system" in text
    assert "wrote-host" not in text and not escaped
    assert a.read_bytes() == before


@pytest.mark.parametrize("body, reason", [
    ('ln -s {secret} "$2"', "report.html is not a file that can be read safely (Too many levels of symbolic links)"),
    ('mkfifo "$2"', "report.html is not a regular file"),
    ('echo x > "$2.real"; ln "$2.real" "$2"', "report.html has 2 links"),
    ('head -c 2000000 /dev/zero > "$2"', "report.html is over the 1 MiB cap"),
])
def test_a_hostile_report_is_refused_never_followed(tmp_path: Path, backend, monkeypatch, body: str, reason: str) -> None:
    monkeypatch.setattr(diffoscope, "READ_CAP", 1024 * 1024)
    secret = tmp_path / "root-only-secret"
    secret.write_text("the root password")
    secret.chmod(0o600)
    a, b = _wheels(tmp_path)
    started = time.monotonic()
    report = run_diffoscope(a, b, tmp_path / "out" / "r.html", 60,
                            executable=_fake(tmp_path, body.format(secret=secret) + "\nexit 1"), backend=backend)
    assert report.html is None and report.reason == f"diffoscope's report refused: {reason}"
    assert time.monotonic() - started < 10, "a FIFO never blocks the reader"
    assert [p.name for p in (tmp_path / "out").iterdir()] == [], "nothing kept, the work folder removed"
