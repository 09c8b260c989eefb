"""Pinned environments: toolchain locks, locks from pip's report, fingerprints, where pip looks."""

from __future__ import annotations

import pytest

from pipeline.engine import environments
from pipeline.engine.environments import (
    PipSource,
    fingerprint,
    lock_from_report,
    read_lock,
)
from pipeline.engine.interpreters import Interpreter
from pipeline.errors import EnvironmentFailed

INTERPRETER = Interpreter("3.12.4", "cp312", "/usr/bin/python3.12", "/usr")


def test_every_supported_interpreter_has_a_hashed_toolchain_lock():
    for path in sorted(environments.ENVIRONMENTS_DIR.glob("cp3*.txt")):
        lines = read_lock(path)
        assert any(line.startswith("build==") for line in lines), path.name
        assert all(" --hash=sha256:" in line and "==" in line for line in lines), path.name


def test_a_missing_toolchain_lock_says_how_to_write_it(tmp_path):
    with pytest.raises(EnvironmentFailed, match="nox -s lock"):
        read_lock(tmp_path / "cp399.txt")


def test_lock_lines_come_from_pips_report_sorted_and_canonical():
    report = {"install": [
        {"metadata": {"name": "Zope.Interface", "version": "7.0"},
         "download_info": {"archive_info": {"hashes": {"sha256": "aa" * 32}}}},
        {"metadata": {"name": "attrs", "version": "24.1"},
         "download_info": {"archive_info": {"hash": "sha256=" + "bb" * 32}}},
    ]}
    assert lock_from_report(report) == (f"attrs==24.1 --hash=sha256:{'bb' * 32}",
                                        f"zope-interface==7.0 --hash=sha256:{'aa' * 32}")


def test_a_requirement_without_a_digest_cannot_be_locked():
    report = {"install": [{"metadata": {"name": "x", "version": "1"}, "download_info": {"url": "https://x"}}]}
    with pytest.raises(EnvironmentFailed, match="no sha256"):
        lock_from_report(report)


def test_the_fingerprint_changes_with_any_lock_line_and_the_interpreter(tmp_path):
    base = environments.describe(INTERPRETER, ("pip==1",), ("setuptools==70",), tmp_path)
    assert base == environments.describe(INTERPRETER, ("pip==1",), ("setuptools==70",), tmp_path)
    other_lock = environments.describe(INTERPRETER, ("pip==1",), ("setuptools==71",), tmp_path)
    other_python = environments.describe(Interpreter("3.12.5", "cp312", "/x", "/y"), ("pip==1",), ("setuptools==70",),
                                         tmp_path)
    assert len({base.fingerprint, other_lock.fingerprint, other_python.fingerprint}) == 3
    assert base.base == other_lock.base != other_python.base
    assert fingerprint(["a", "b"]) != fingerprint(["a"], ["b"]), "parts are delimited"


def test_pip_reads_local_folders_and_file_indexes_only_when_they_exist(tmp_path):
    source = PipSource(index_url=(tmp_path / "simple").as_uri(), find_links=(str(tmp_path), "https://example/wheels"))
    assert source.local_paths() == (str(tmp_path),)
    (tmp_path / "simple").mkdir()
    assert source.local_paths() == (str(tmp_path / "simple"), str(tmp_path))
    assert PipSource(index_url=None).args() == ["--no-index"]


def test_a_free_threaded_build_is_another_environment(tmp_path):
    gil = Interpreter("3.14.2", "cp314", "/x/python3.14", "/x")
    free = Interpreter("3.14.2", "cp314t", "/x/python3.14t", "/x", free_threaded=True)
    one, other = (environments.describe(i, ("pip==1",), (), tmp_path) for i in (gil, free))
    assert one.base != other.base and one.path != other.path
    assert environments.toolchain_lock_path(free).name == "cp314t.txt"
    assert environments.base_fingerprint(INTERPRETER, ("pip==1",)) == fingerprint("cpython 3.12.4", ("pip==1",)), \
        "a GIL build's fingerprint is what it always was: no rebuild of everything"


def test_locks_exist_for_interpreters_this_machine_lacks():
    assert {"3.14", "3.15", "3.14t"} <= set(environments.locked_selectors())
