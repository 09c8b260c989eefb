"""--wheelhouse: reproducible wheels, SHA256SUMS that sha256sum checks, and each wheel's exact environment."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.cli.wheelhouse import SUMS, safe_wheel_name, write_wheelhouse
from pipeline.records import Build, Environment, Result


def _result(tmp_path: Path, wheel: str, data: bytes, status: str = "reproducible", tag: str = "cp312") -> Result:
    kept = tmp_path / "kept" / tag / wheel.split("-")[0] / "1"
    kept.mkdir(parents=True, exist_ok=True)
    (kept / wheel).write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    other = sha if status == "reproducible" else "0" * 64
    env = Environment(fingerprint="f" * 64, base="b" * 64, python="3.12.1", interpreter=tag,
                      toolchain=("build==1.6.1 --hash=sha256:" + "1" * 64,),
                      requirements=("setuptools==80.9.0 --hash=sha256:" + "2" * 64,), path="/envs/x")
    builds = (Build(wheel, sha, 1.0, str(kept / wheel), str(kept / "build.log"), 0, "/b"),
              Build(wheel, other, 1.0, str(kept / wheel), str(kept / "build.log"), 0, "/b"))
    return Result(name=wheel.split("-")[0], version="1.0", python="3.12.1", interpreter=tag, status=status,
                  started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z", reproduce=f"r {tag}",
                  environment=env, builds=builds)


def test_reproducible_wheels_go_in_with_their_sums_and_environments(tmp_path):
    good = _result(tmp_path, "good-1.0-py3-none-any.whl", b"good wheel")
    bad = _result(tmp_path, "bad-1.0-py3-none-any.whl", b"bad wheel", status="unreproducible")
    failed = Result(name="broken", version="1.0", python="3.12.1", interpreter="cp312", status="build-failed",
                    started="", finished="", reproduce="r")
    house = tmp_path / "house"
    outcome = write_wheelhouse(house, [good, bad, failed])

    assert [p.wheel for p in outcome.placed] == ["good-1.0-py3-none-any.whl"]
    assert outcome.left_out == [("bad-1.0-py3-none-any.whl (cp312)", "unreproducible")]
    assert sorted(p.name for p in house.iterdir()) == [SUMS, "good-1.0-py3-none-any.whl",
                                                        "good-1.0-py3-none-any.whl.buildenv"]
    if shutil.which("sha256sum"):
        subprocess.run(["sha256sum", "--check", "--strict", SUMS], cwd=house, check=True, capture_output=True)
    env = house / "good-1.0-py3-none-any.whl.buildenv" / "cp312"
    assert "build==1.6.1 --hash=sha256:" in (env / "toolchain.txt").read_text()
    assert "setuptools==80.9.0 --hash=sha256:" in (env / "build.txt").read_text()
    assert json.loads((env / "result.json").read_text())["reproduce"] == "r cp312"


def test_unreproducible_wheels_only_when_asked_and_then_marked(tmp_path):
    bad = _result(tmp_path, "bad-1.0-py3-none-any.whl", b"bad wheel", status="unreproducible")
    outcome = write_wheelhouse(tmp_path / "house", [bad], include_unreproducible=True)
    assert [(p.wheel, p.reproducible) for p in outcome.placed] == [("bad-1.0-py3-none-any.whl", False)]
    status = json.loads((tmp_path / "house" / "bad-1.0-py3-none-any.whl.buildenv" / "cp312" / "result.json")
                        .read_text())["status"]
    assert status == "unreproducible"


def test_one_file_per_name_the_bytes_most_interpreters_built(tmp_path):
    name = "pure-1.0-py3-none-any.whl"
    results = [_result(tmp_path, name, b"old backend", tag="cp39"), _result(tmp_path, name, b"new", tag="cp312"),
               _result(tmp_path, name, b"new", tag="cp313")]
    outcome = write_wheelhouse(tmp_path / "house", results)
    assert [(p.wheel, p.interpreters) for p in outcome.placed] == [(name, ("cp312", "cp313"))]
    assert (tmp_path / "house" / name).read_bytes() == b"new"
    assert outcome.left_out == [(f"{name} (cp39)", f"other bytes than the {name} built on cp312, cp313")]


def test_a_different_file_already_there_is_never_replaced(tmp_path):
    name = "good-1.0-py3-none-any.whl"
    house = tmp_path / "house"
    house.mkdir()
    (house / name).write_bytes(b"what the mirror already serves")
    (house / SUMS).write_text(f"{'9' * 64}  gone-1.0-py3-none-any.whl\n")
    outcome = write_wheelhouse(house, [_result(tmp_path, name, b"good wheel")])
    assert outcome.placed == [] and "already holds another" in outcome.left_out[0][1]
    assert (house / name).read_bytes() == b"what the mirror already serves"
    assert (house / SUMS).read_text() == "", "a line whose file is gone, or whose bytes differ, is dropped"


def test_a_second_run_adds_to_the_sums(tmp_path):
    house = tmp_path / "house"
    write_wheelhouse(house, [_result(tmp_path, "a-1.0-py3-none-any.whl", b"a")])
    write_wheelhouse(house, [_result(tmp_path, "b-1.0-py3-none-any.whl", b"b")])
    names = [line.split("  ")[1] for line in (house / SUMS).read_text().splitlines()]
    assert names == ["a-1.0-py3-none-any.whl", "b-1.0-py3-none-any.whl"]


@pytest.mark.parametrize("name, safe", [
    ("six-1.17.0-py2.py3-none-any.whl", True),
    ("pkg-1.0-1\x1b[2J-py3-none-any.whl", False),
    ("pkg-1.0-1\nforged-py3-none-any.whl", False),
    ("../pkg-1.0-py3-none-any.whl", False),
    ("pkg-1.0.tar.gz", False),
])
def test_a_wheel_name_with_controls_or_a_path_is_never_written(name, safe):
    assert safe_wheel_name(name) is safe
