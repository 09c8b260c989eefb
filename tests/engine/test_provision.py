"""What provisioning reads from an unpacked sdist before anything runs: build requirements, Cargo locks."""

from __future__ import annotations

import pytest

from pipeline.engine.provision import (
    DEFAULT_REQUIRES,
    cargo_manifests,
    load_lock,
    save_lock,
    static_requirements,
)
from pipeline.errors import EnvironmentFailed


@pytest.mark.parametrize("pyproject, expected", [
    (None, list(DEFAULT_REQUIRES)),
    ("[project]\nname = 'x'\n", list(DEFAULT_REQUIRES)),
    ("[build-system]\nrequires = ['hatchling>=1.2', 'x']\n", ["hatchling>=1.2", "x"]),
    ("[build-system]\nrequires = []\n", []),
])
def test_static_requirements_follow_pep_517(tmp_path, pyproject, expected):
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    assert static_requirements(tmp_path) == expected


@pytest.mark.parametrize("pyproject", ["[build-system\n", "[build-system]\nrequires = 'setuptools'\n",
                                       "[build-system]\nrequires = [1]\n"])
def test_a_broken_build_system_table_is_a_clear_error(tmp_path, pyproject):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    with pytest.raises(EnvironmentFailed, match="reading pyproject.toml"):
        static_requirements(tmp_path)


def test_cargo_manifests_beside_each_lock_but_not_in_build_output(tmp_path):
    for folder in ("", "rust/core", "target/debug/dep", "a/b/c/d/e/f"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "Cargo.lock").write_text("")
        (tmp_path / folder / "Cargo.toml").write_text("")
    (tmp_path / "lonely").mkdir()
    (tmp_path / "lonely" / "Cargo.lock").write_text("")
    found = [str(p.relative_to(tmp_path)) for p in cargo_manifests(tmp_path)]
    assert found == ["Cargo.toml", "rust/core/Cargo.toml"]


def test_a_saved_lock_reads_back_the_same(tmp_path):
    lines = ("a==1 --hash=sha256:" + "0" * 64, "b==2 --hash=sha256:" + "1" * 64)
    save_lock(tmp_path / "x" / "lock.txt", lines)
    assert load_lock(tmp_path / "x" / "lock.txt") == lines
    assert load_lock(tmp_path / "missing.txt") is None
