"""What the tracker reads from an sdist without unpacking it, and how it treats the requirements it finds."""

from __future__ import annotations

import pytest

from pipeline.engine.sdist import DEFAULT_REQUIRES, checked_requirements, read_sdist, static_requirements
from pipeline.errors import BuildRequirementsFailed, EnvironmentFailed, UnsafeArchive
from tests.sdists import _tar, hostile_sdist, intree_sdist, rust_sdist


def _sdist(tmp_path, members: dict[str, bytes], name="demo-1.0.tar.gz"):
    path = tmp_path / name
    path.write_bytes(_tar(members))
    return path


@pytest.mark.parametrize("pyproject, expected", [
    (None, list(DEFAULT_REQUIRES)),
    (b"[project]\nname = 'x'\n", list(DEFAULT_REQUIRES)),
    (b"[build-system]\nrequires = ['hatchling>=1.2', 'x']\n", ["hatchling>=1.2", "x"]),
    (b"[build-system]\nrequires = []\n", []),
])
def test_static_requirements_follow_pep_517(tmp_path, pyproject, expected):
    members = {"demo-1.0/setup.py": b""}
    if pyproject is not None:
        members["demo-1.0/pyproject.toml"] = pyproject
    assert static_requirements(read_sdist(_sdist(tmp_path, members))) == expected


@pytest.mark.parametrize("pyproject", [b"[build-system\n", b"[build-system]\nrequires = 'setuptools'\n",
                                       b"[build-system]\nrequires = [1]\n"])
def test_a_broken_build_system_table_is_a_clear_error(tmp_path, pyproject):
    facts = read_sdist(_sdist(tmp_path, {"demo-1.0/pyproject.toml": pyproject}))
    with pytest.raises(EnvironmentFailed, match="reading pyproject.toml"):
        static_requirements(facts)


def test_cargo_manifests_beside_each_lock_but_not_in_build_output(tmp_path):
    members = {"demo-1.0/pyproject.toml": b""}
    for folder in ("", "rust/core/", "target/debug/dep/", "a/b/c/d/e/f/"):
        members[f"demo-1.0/{folder}Cargo.lock"] = b""
        members[f"demo-1.0/{folder}Cargo.toml"] = b""
    members["demo-1.0/lonely/Cargo.lock"] = b""
    assert read_sdist(_sdist(tmp_path, members)).cargo_manifests == ("Cargo.toml", "rust/core/Cargo.toml")
    rust = tmp_path / "rustpkg-1.0.tar.gz"
    rust.write_bytes(rust_sdist("rustpkg", "1.0"))
    assert read_sdist(rust).cargo_manifests == ("rs/Cargo.toml",)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "linkout"])
def test_a_hostile_archive_is_refused_before_anything_runs(tmp_path, kind):
    path = tmp_path / "evil-1.0.tar.gz"
    path.write_bytes(hostile_sdist("evil", "1.0", kind))
    with pytest.raises(UnsafeArchive):
        read_sdist(path)


def test_a_tarball_that_is_not_an_sdist_is_refused(tmp_path):
    with pytest.raises(UnsafeArchive, match="not an sdist"):
        read_sdist(_sdist(tmp_path, {"demo-1.0/README": b"hi"}))
    ok = tmp_path / "ok-1.0.tar.gz"
    ok.write_bytes(intree_sdist("ok", "1.0"))
    assert read_sdist(ok).top == "ok-1.0"


@pytest.mark.parametrize("text", ["--index-url=https://evil.example/simple", "-e .", "x @ https://evil.example/x.whl",
                                  "not a requirement!", "setuptools\n--extra-index-url x"])
def test_a_requirement_list_is_hostile_input(text):
    with pytest.raises(BuildRequirementsFailed):
        checked_requirements([text])


def test_valid_requirements_are_written_back_canonically():
    assert checked_requirements(["setuptools >= 40.8", "wheel;python_version>='3'"]) == [
        "setuptools>=40.8", 'wheel; python_version >= "3"']
