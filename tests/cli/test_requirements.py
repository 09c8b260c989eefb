"""Requirements files in pip's format: pins, markers per interpreter, --hash, and lines refused one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli.requirements import load_requirements, logical_lines
from pipeline.engine.interpreters import Interpreter

INDEX = "https://pypi.org/simple/"
SHA_A = "a" * 64
SHA_B = "b" * 64


def _load(tmp_path: Path, text: str, index: str = INDEX):
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    return load_requirements([path], index)


def _interpreter(version: str) -> Interpreter:
    major, minor = version.split(".")[:2]
    return Interpreter(version=version, tag=f"cp{major}{minor}", path="/x", prefix="/x")


def test_continuations_and_comments_are_joined_and_dropped():
    text = "# head\nsix==1.17.0 \\\n    --hash=sha256:abc  # why\n\n  \nidna==3.10#not-a-comment\n"
    assert list(logical_lines(text)) == [(2, "six==1.17.0 --hash=sha256:abc"), (6, "idna==3.10#not-a-comment")]


def test_pins_markers_and_hashes(tmp_path):
    entries = _load(tmp_path, f"Six[extra]==1.17.0 ; python_version >= '3.10' \\\n"
                              f"    --hash=sha256:{SHA_A} --hash sha256:{SHA_B.upper()}\n"
                              f"idna===3.10 --hash=sha512:{'c' * 128}\n")
    six, idna = entries
    assert (six.name, six.version, six.problem) == ("six", "1.17.0", "")
    assert six.hashes == (f"sha256:{SHA_A}", f"sha256:{SHA_B}")
    assert six.where.endswith("requirements.txt:1") and six.spec == "six==1.17.0"
    assert not six.applies_to(_interpreter("3.9.18")) and six.applies_to(_interpreter("3.12.1"))
    assert idna.applies_to(_interpreter("3.9.18")) and idna.hashes == (f"sha512:{'c' * 128}",)


@pytest.mark.parametrize("line, problem", [
    ("requests>=2", "not an exact pin"),
    ("requests==2.*", "not an exact pin"),
    ("requests", "not an exact pin"),
    ("pkg @ https://example.org/pkg-1.0.tar.gz", "a URL requirement"),
    ("-e .", "unsupported option '-e'"),
    ("-c constraints.txt", "unsupported option '-c'"),
    ("six==1.0 --install-option=x", "unsupported option '--install-option'"),
    ("six==1.0 --hash=md5:abc", "--hash wants sha256:HEX"),
    ("six==1.0 --hash=sha256:xyz", "--hash wants sha256:HEX"),
    ("not a requirement at all!", "not a requirement"),
    ("--index-url https://mirror.example/simple/", "pass --index-url https://mirror.example/simple/"),
])
def test_a_line_that_cannot_be_checked_is_refused_alone(tmp_path, line, problem):
    good, bad = _load(tmp_path, f"good==1.0\n{line}\n")
    assert good.problem == "" and (good.name, good.version) == ("good", "1.0")
    assert problem in bad.problem and bad.where.endswith(":2")


def test_options_that_only_change_how_pip_installs_are_accepted(tmp_path):
    entries = _load(tmp_path, f"--index-url {INDEX}\n--extra-index-url https://x.example/\n--prefer-binary\n"
                              "--only-binary :all:\nsix==1.17.0\n")
    assert [(e.name, e.problem) for e in entries] == [("six", "")]


def test_once_one_entry_has_a_hash_every_entry_needs_one(tmp_path):
    entries = _load(tmp_path, f"six==1.17.0 --hash=sha256:{SHA_A}\nidna==3.10\n")
    assert entries[0].problem == "" and "hash-checking mode" in entries[1].problem
    entries = _load(tmp_path, "--require-hashes\nidna==3.10\n")
    assert "hash-checking mode" in entries[0].problem


def test_included_files_are_read_relative_to_the_including_one(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.txt").write_text("idna==3.10\n-r missing.txt\n")
    entries = _load(tmp_path, "-r sub/base.txt\nsix==1.17.0\n-r requirements.txt\n")
    assert [e.spec for e in entries if not e.problem] == ["idna==3.10", "six==1.17.0"]
    problems = [e.problem for e in entries if e.problem]
    assert "cannot read missing.txt" in problems[0] and "already being read" in problems[1]
