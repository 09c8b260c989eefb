"""The nightly on the real engine: tiny sdists on a local index, built twice for real."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.engine.net import Retry
from pipeline.engine.options import CheckOptions
from pipeline.nightly.engine import engine
from pipeline.nightly.lists import ListEntry
from pipeline.nightly.run import NightlyOptions, run_nightly
from pipeline.nightly.store import Store
from tests.sdists import intree_sdist

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _options(out: Path, work: Path, index, wheelhouse, sandboxed, **kw) -> NightlyOptions:
    check = CheckOptions(out=work, index_url=index.url, find_links=(str(wheelhouse),), unsandboxed=not sandboxed)
    return NightlyOptions(out_dir=out, check=check, pythons=("3.11",), jobs=2, retry=Retry(attempts=3, backoff=0.0),
                          tick=0.5, **kw)


def test_a_real_nightly_records_verdicts_then_rebuilds_nothing(tmp_path, index, wheelhouse, sandboxed, shared_out,
                                                              interpreters):
    index.add("nightly-pure", "nightly-pure-1.0.tar.gz", intree_sdist("nightly-pure", "1.0"))
    index.add("nightly-random", "nightly-random-1.0.tar.gz", intree_sdist("nightly-random", "1.0", "random"))
    options = _options(tmp_path / "out", shared_out, index, wheelhouse, sandboxed)
    entries = [ListEntry("nightly-pure", None, "t:1"), ListEntry("nightly-random", None, "t:2"),
               ListEntry("nightly-absent", None, "t:3")]

    first = run_nightly(engine(options.check), options, entries)
    assert {(r.name, r.status) for r in first.built} == {("nightly-pure", "reproducible"),
                                                         ("nightly-random", "unreproducible")}
    assert first.unknown and "nightly-absent" in first.unknown[0]
    assert first.changes.new_unreproducible == (("nightly-random", "cp311", "1.0"),)

    second = run_nightly(engine(options.check), options, entries)
    assert second.built == ()
    assert {s.reason for s in second.skipped} == {"already reproducible", "already unreproducible"}

    index.add("nightly-pure", "nightly-pure-1.1.tar.gz", intree_sdist("nightly-pure", "1.1"))
    third = run_nightly(engine(options.check), options, entries)
    assert [(r.name, r.version, r.status) for r in third.built] == [("nightly-pure", "1.1", "reproducible")]
    with Store.open(tmp_path / "out") as store:
        assert [r.version for r in store.all_results() if r.name == "nightly-pure"] == ["1.0", "1.1"]


def _count(path: Path) -> int:
    """Rows committed so far, read from outside the running nightly (0 before the table exists)."""
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


RUN = "import sys; from pipeline.cli.nightly import main_nightly; sys.exit(main_nightly(sys.argv[1:]))"


def test_kill_9_mid_build_then_resume_redoes_only_the_build_in_flight(tmp_path, index, wheelhouse, sandboxed,
                                                                       shared_out, interpreters):
    for name, behaviour in (("resume-a", "pure"), ("resume-b", "sleep"), ("resume-c", "pure")):
        index.add(name, f"{name}-1.0.tar.gz", intree_sdist(name, "1.0", behaviour))
    listing = tmp_path / "list.txt"
    listing.write_text("resume-a\nresume-b\nresume-c\n")
    out = tmp_path / "out"
    args = ["--list", str(listing), "--out", str(out), "--work-dir", str(shared_out), "--index-url", index.url,
            "--find-links", str(wheelhouse), "--python", "3.11", "--jobs", "1", "--no-render", "--quiet"]
    args += [] if sandboxed else ["--unsandboxed"]
    # jobs=1 and no past durations: a, then b (which sleeps), then c.
    child = subprocess.Popen([sys.executable, "-c", RUN, *args, "--timeout", "300"], cwd=ROOT,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        rows = 0
        while time.monotonic() < deadline and rows < 1 and child.poll() is None:
            time.sleep(0.2)
            rows = _count(out / "results.sqlite")
        assert rows == 1, "resume-a was never recorded"
        time.sleep(1.0)  # resume-b is building now (it sleeps for minutes)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()

    assert sqlite3.connect(out / "results.sqlite").execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with Store.open(out) as store:
        assert [(r.name, r.status) for r in store.all_results()] == [("resume-a", "reproducible")]

    # Resume; a short timeout so the sleeping build ends as a timeout verdict instead of hanging.
    code = subprocess.run([sys.executable, "-c", RUN, *args, "--timeout", "3"], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=240)
    assert code.returncode == 0, code.stderr
    with Store.open(out) as store:
        rows = [(r.name, r.status) for r in store.all_results()]
    assert sorted(rows) == [("resume-a", "reproducible"), ("resume-b", "timeout"), ("resume-c", "reproducible")]
