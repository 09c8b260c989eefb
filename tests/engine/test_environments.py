"""Pinned environments: toolchain locks, locks from uv's pylock.toml, fingerprints, where the resolver looks."""

from __future__ import annotations

import pytest
from packaging.tags import Tag

from pipeline.engine import environments
from pipeline.engine.environments import PipSource, fingerprint, lock_from_pylock, read_lock
from pipeline.engine.interpreters import Interpreter
from pipeline.errors import EnvironmentFailed

INTERPRETER = Interpreter("3.12.4", "cp312", "/usr/bin/python3.12", "/usr")
INPUTS = {"python": "3.12.4", "python_executable_sha256": "a" * 64, "cc": "gcc 12.2.0", "rustc": "absent",
          "layout": "2"}
TAGS = [Tag("cp312", "cp312", "manylinux_2_28_x86_64"), Tag("cp312", "abi3", "manylinux_2_17_x86_64"),
        Tag("py3", "none", "any")]


def test_every_supported_interpreter_has_a_hashed_toolchain_lock():
    for path in sorted(environments.ENVIRONMENTS_DIR.glob("cp3*.txt")):
        lines = read_lock(path)
        assert any(line.startswith("build==") for line in lines), path.name
        assert all(" --hash=sha256:" in line and "==" in line for line in lines), path.name


def test_a_missing_toolchain_lock_says_how_to_write_it(tmp_path):
    with pytest.raises(EnvironmentFailed, match="nox -s lock"):
        read_lock(tmp_path / "cp399.txt")


PYLOCK = f"""
lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "Zope.Interface"
version = "7.0"
wheels = [
  {{ url = "https://files/zope.interface-7.0-cp312-abi3-manylinux_2_17_x86_64.whl", hashes = {{ sha256 = "{'b' * 64}" }} }},
  {{ url = "https://files/zope.interface-7.0-cp312-cp312-manylinux_2_28_x86_64.whl", hashes = {{ sha256 = "{'a' * 64}" }} }},
  {{ url = "https://files/zope.interface-7.0-cp311-cp311-manylinux_2_28_x86_64.whl", hashes = {{ sha256 = "{'c' * 64}" }} }},
]

[[packages]]
name = "attrs"
version = "24.1"
wheels = [{{ url = "file:///wheelhouse/attrs-24.1-py3-none-any.whl", hashes = {{ sha256 = "{'d' * 64}" }} }}]
"""


def test_lock_lines_name_the_best_wheel_for_the_interpreter_sorted_and_canonical():
    assert lock_from_pylock(PYLOCK, TAGS) == (f"attrs==24.1 --hash=sha256:{'d' * 64}",
                                              f"zope-interface==7.0 --hash=sha256:{'a' * 64}")


@pytest.mark.parametrize("text, match", [
    ('[[packages]]\nname = "x"\nversion = "1"\nsdist = { url = "https://x/x-1.tar.gz" }\n', "no wheel"),
    ('[[packages]]\nname = "x"\nversion = "1"\nwheels = [{ url = "https://x/x-1-cp39-cp39-win32.whl", '
     f'hashes = {{ sha256 = "{"e" * 64}" }} }}]\n', "no wheel"),
    ('[[packages]]\nname = "x"\nversion = "1"\nwheels = [{ url = "https://x/x-1-py3-none-any.whl" }]\n', "no wheel"),
    ("packages = [", "reading the resolver's lock"),
])
def test_a_requirement_without_a_usable_hashed_wheel_cannot_be_locked(text, match):
    with pytest.raises(EnvironmentFailed, match=match):
        lock_from_pylock(text, TAGS)


def test_the_fingerprint_covers_locks_interpreter_build_compilers_and_layout(tmp_path):
    base = environments.describe(INTERPRETER, ("pip==1",), ("setuptools==70",), tmp_path, INPUTS)
    assert base == environments.describe(INTERPRETER, ("pip==1",), ("setuptools==70",), tmp_path, INPUTS)
    others = [
        environments.describe(INTERPRETER, ("pip==1",), ("setuptools==71",), tmp_path, INPUTS),
        environments.describe(INTERPRETER, ("pip==1",), ("setuptools==70",), tmp_path, {**INPUTS, "cc": "gcc 13"}),
        environments.describe(INTERPRETER, ("pip==1",), ("setuptools==70",), tmp_path,
                              {**INPUTS, "python_executable_sha256": "f" * 64}),
        environments.describe(INTERPRETER, ("pip==1",), ("setuptools==70",), tmp_path, {**INPUTS, "layout": "host"}),
    ]
    assert len({base.fingerprint, *(other.fingerprint for other in others)}) == 5
    assert base.base == others[0].base == others[3].base, "the base leaves out the build lock and the layout"
    assert base.base != others[1].base != others[2].base, "a new compiler or interpreter binary is a new base"
    assert base.inputs == INPUTS and base.path != others[3].path
    assert fingerprint(["a", "b"]) != fingerprint(["a"], ["b"]), "parts are delimited"


def test_the_resolver_reads_local_folders_and_file_indexes_only_when_they_exist(tmp_path):
    source = PipSource(index_url=(tmp_path / "simple").as_uri(), find_links=(str(tmp_path), "https://example/wheels"))
    assert source.local_paths() == (str(tmp_path),)
    (tmp_path / "simple").mkdir()
    assert source.local_paths() == (str(tmp_path / "simple"), str(tmp_path))
    assert PipSource(index_url=None).args() == ["--no-index"]


def test_a_venv_is_complete_only_with_its_own_marker(tmp_path):
    env = environments.describe(INTERPRETER, ("pip==1",), (), tmp_path, INPUTS)
    assert not environments.is_complete(env)
    environments.mark_complete(env)
    assert environments.is_complete(env)
    environments.remove(env)
    assert not environments.is_complete(env)


def test_interpreter_tags_put_the_interpreters_own_abi_first():
    tags = environments.interpreter_tags(INTERPRETER)
    assert tags[0].interpreter == "cp312" and tags[0].abi == "cp312"
    assert Tag("py3", "none", "any") in tags and not any(t.interpreter == "cp313" for t in tags)


def test_a_free_threaded_build_is_another_environment(tmp_path):
    gil = Interpreter("3.14.2", "cp314", "/x/python3.14", "/x")
    free = Interpreter("3.14.2", "cp314t", "/x/python3.14t", "/x", free_threaded=True)
    one, other = (environments.describe(i, ("pip==1",), (), tmp_path, INPUTS) for i in (gil, free))
    assert one.path != other.path, "the tag names the folder"
    assert environments.toolchain_lock_path(free).name == "cp314t.txt"


def test_locks_exist_for_interpreters_this_machine_lacks():
    assert {"3.14", "3.15", "3.14t"} <= set(environments.locked_selectors())
