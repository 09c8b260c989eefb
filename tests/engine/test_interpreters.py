"""Interpreter discovery: PATH, pyenv and uv, with the prober replaced."""

from __future__ import annotations

import pytest

from pipeline.engine.interpreters import SUPPORTED, Interpreter, discover, parse_wanted
from pipeline.errors import UsageError


def _fake_tree(tmp_path, layout):
    for relative in layout:
        exe = tmp_path / relative
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("")
        exe.chmod(0o755)


def _prober(path):
    version = {"python3.12": "3.12.4", "python3.9": "3.9.18", "python3.13": "3.13.1"}[path.rsplit("/", 1)[-1]]
    return Interpreter(version, "cp" + "".join(version.split(".")[:2]), path, "/x")


def test_finds_pyenv_and_uv_and_names_the_missing(tmp_path):
    _fake_tree(tmp_path, ["pyenv/versions/3.12.4/bin/python3.12", "uv/cpython-3.13.1-linux/bin/python3.13",
                          "bin/python3.9"])
    env = {"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv"), "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv"),
           "HOME": str(tmp_path)}
    found = discover(SUPPORTED, env=env, prober=_prober)
    assert [i.minor for i in found.found] == ["3.9", "3.12", "3.13"]
    assert found.missing == ("3.10", "3.11")
    assert "3.10, 3.11 not found" in found.missing_message() and "pyenv install 3.10" in found.missing_message()


def test_the_real_machine_has_at_least_one():
    assert discover().found


@pytest.mark.parametrize("given, wanted", [(None, SUPPORTED), (["3.12"], ("3.12",)), (["cp313,3.9"], ("3.13", "3.9")),
                                           (["312"], ("3.12",)), (["all"], SUPPORTED)])
def test_python_selection(given, wanted):
    assert parse_wanted(given) == wanted


def test_an_unsupported_python_is_refused():
    with pytest.raises(UsageError, match="unsupported Python '3.8'"):
        parse_wanted(["3.8"])
