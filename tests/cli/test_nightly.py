"""The nightly and merge commands: one-line errors, the summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.cli.nightly import main_nightly
from pipeline.engine.net import Retry
from pipeline.engine.options import CheckOptions
from pipeline.errors import PipelineError, UsageError
from pipeline.nightly.run import NightlyOptions
from tests.fake_engine import FakeEngine


def options(tmp_path: Path, **kw) -> NightlyOptions:
    kw.setdefault("jobs", 2)
    kw.setdefault("retry", Retry(attempts=3, backoff=0.0))
    kw.setdefault("tick", 0.05)
    return NightlyOptions(out_dir=tmp_path / "out", check=CheckOptions(index_url="file:///index/"), **kw)


def test_main_nightly_reports_bad_input_in_one_line(tmp_path, capsys):
    fake = FakeEngine({"alpha": ["1.0"]})
    with pytest.raises(UsageError, match=r"^--shard wants K/N with 1 <= K <= N, got '9/4'$"):
        main_nightly(["--out", str(tmp_path), "--shard", "9/4"], engine=fake.engine())
    assert main(["nightly", "--out", str(tmp_path), "--shard", "9/4"]) == 2
    assert capsys.readouterr().err.strip() == "nightly: error: --shard wants K/N with 1 <= K <= N, got '9/4'"
    with pytest.raises(PipelineError, match="cannot read list nope.txt"):
        main_nightly(["--out", str(tmp_path), "--python", "2.7", "--list", "nope.txt"], engine=fake.engine())


def test_main_nightly_runs_and_prints_a_summary(tmp_path, capsys):
    listing = tmp_path / "l.txt"
    listing.write_text("alpha\n")
    fake = FakeEngine({"alpha": ["1.0"]})
    code = main_nightly(["--out", str(tmp_path / "out"), "--list", str(listing), "--no-render"], engine=fake.engine())
    out = capsys.readouterr().out
    assert code == 0 and "1 reproducible" in out and "1/1" in out


def test_main_merge_refuses_a_bad_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["merge", "--out", str(tmp_path / "out"), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a results export" in err
