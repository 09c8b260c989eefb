"""diffoscope as an optional, time-limited report: it may be missing, slow or broken, never fatal."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest

from pipeline.explain import compare_wheels
from pipeline.explain.diffoscope import run_diffoscope


def _wheels(tmp_path: Path) -> tuple[Path, Path]:
    paths = []
    for name, text in (("a.whl", b'P = "/tmp/build-1/x"\n'), ("b.whl", b'P = "/tmp/build-2/x"\n')):
        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            archive.writestr(zipfile.ZipInfo("demo/_p.py", (2020, 1, 1, 0, 0, 0)), text)
        paths.append(tmp_path / name)
    return paths[0], paths[1]


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


def test_timeout_kills_it_and_leaves_nothing(tmp_path: Path) -> None:
    a, b = _wheels(tmp_path)
    marker = tmp_path / "child-alive"
    # the child outlives the shell unless the whole session is killed
    tool = _fake(tmp_path, f"(sleep 1; touch {marker}) & sleep 30")
    report = run_diffoscope(a, b, tmp_path / "r.html", timeout=0.5, executable=tool)
    assert report.html is None and "timed out after 0.5 s" in report.reason
    assert report.seconds < 5
    assert not (tmp_path / "r.html").exists() and list(tmp_path.glob(".diffoscope-*")) == []
    import time

    time.sleep(1.5)
    assert not marker.exists()


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
