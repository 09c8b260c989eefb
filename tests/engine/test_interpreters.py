"""The CPython table and interpreter discovery (PATH, pyenv, uv), with the prober replaced."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.engine.interpreters import (
    CPYTHONS,
    Interpreter,
    Selection,
    ci_pythons,
    default_selection,
    discover,
    known,
    parse_wanted,
    supported,
)
from pipeline.errors import UsageError


def _fake_tree(tmp_path, layout):
    for relative in layout:
        exe = tmp_path / relative
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("")
        exe.chmod(0o755)


def _prober(path):
    """What each fake executable says it is; a ``t`` in its name makes it a free-threaded build."""
    exe = path.rsplit("/", 1)[-1]
    version = {"python3.12": "3.12.4", "python3.9": "3.9.18", "python3.13": "3.13.1", "python3.14": "3.14.2",
               "python3.14t": "3.14.2"}[exe]
    free = exe.endswith("t")
    return Interpreter(version, "cp" + "".join(version.split(".")[:2]) + ("t" if free else ""), path, "/x", free)


def _env(tmp_path):
    return {"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv"),
            "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv"), "HOME": str(tmp_path)}


@pytest.mark.parametrize("day, versions", [
    (dt.date(2026, 11, 27), ("3.11", "3.12", "3.13", "3.14", "3.15")),  # 3.10 ended 2026-10-31; 3.15 is out
    (dt.date(2026, 10, 31), ("3.10", "3.11", "3.12", "3.13", "3.14", "3.15")),  # the last day counts
    (dt.date(2025, 11, 1), ("3.10", "3.11", "3.12", "3.13", "3.14")),  # 3.9 ended the day before
    (dt.date(2025, 10, 6), ("3.9", "3.10", "3.11", "3.12", "3.13")),  # 3.14 comes out the next day
    (dt.date(2027, 11, 1), ("3.12", "3.13", "3.14", "3.15")),
])
def test_the_table_decides_the_versions_supported_on_a_day(day, versions):
    assert supported(day) == versions
    assert default_selection(day).required == versions


def test_free_threaded_builds_are_optional_in_the_default_set_and_supported_ones_go_to_ci():
    day = dt.date(2026, 11, 27)
    assert default_selection(day).optional == ("3.13t", "3.14t", "3.15t")
    assert ci_pythons(day) == ("3.11", "3.12", "3.13", "3.14", "3.15", "3.14t", "3.15t")
    assert ci_pythons(dt.date(2025, 6, 1)) == ("3.9", "3.10", "3.11", "3.12", "3.13")


def test_the_table_is_in_order_and_every_version_lives_five_years():
    minors = [tuple(map(int, row.minor.split("."))) for row in CPYTHONS]
    assert minors == sorted(minors)
    for row in CPYTHONS:
        years = (row.end_of_life - row.released).days / 365.25
        assert 4.5 < years < 5.2, row


def test_finds_pyenv_uv_and_free_threaded_builds_and_names_the_missing(tmp_path):
    _fake_tree(tmp_path, ["pyenv/versions/3.12.4/bin/python3.12", "uv/cpython-3.13.1-linux/bin/python3.13",
                          "bin/python3.9", "uv/cpython-3.14.2+freethreaded-linux/bin/python3.14t"])
    wanted = Selection(("3.9", "3.12", "3.13", "3.14", "3.15"), ("3.13t", "3.14t"))
    found = discover(wanted, env=_env(tmp_path), prober=_prober)
    assert [i.tag for i in found.found] == ["cp39", "cp312", "cp313", "cp314t"]
    assert found.found[-1].selector == "3.14t" and found.found[-1].free_threaded
    assert found.missing == ("3.14", "3.15"), "a missing free-threaded build of the default set is not named"
    message = found.missing_message()
    assert "3.14, 3.15 not found" in message and "uv python install 3.14" in message and "going on" in message


def test_a_free_threaded_build_asked_for_by_name_is_named_when_missing(tmp_path):
    _fake_tree(tmp_path, ["pyenv/versions/3.14.2/bin/python3.14"])
    found = discover(parse_wanted(["3.14t", "3.14"]), env=_env(tmp_path), prober=_prober)
    assert [i.tag for i in found.found] == ["cp314"], "the GIL build is not taken for the free-threaded one"
    assert found.missing == ("3.14t",) and "uv python install 3.14t" in found.missing_message()


def test_the_real_machine_has_at_least_one():
    assert discover().found


@pytest.mark.parametrize("given, wanted", [(["3.12"], ("3.12",)), (["cp313,3.9"], ("3.13", "3.9")),
                                           (["312"], ("3.12",)), (["cp314t"], ("3.14t",)), (["3.8"], ("3.8",))])
def test_python_selection(given, wanted):
    assert parse_wanted(given) == Selection(wanted)


@pytest.mark.parametrize("given", [None, [], ["all"]])
def test_no_selection_is_the_default_set_of_the_day(given):
    day = dt.date(2026, 11, 27)
    assert parse_wanted(given, day) == default_selection(day)


def test_an_unknown_python_is_refused():
    with pytest.raises(UsageError, match="unknown Python '3.7'; known: 3.8, 3.9"):
        parse_wanted(["3.7"])
    with pytest.raises(UsageError, match="unknown Python '3.12t'"):
        parse_wanted(["3.12t"])
    assert "3.14t" in known() and "3.12t" not in known()
