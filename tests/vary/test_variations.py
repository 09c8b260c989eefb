"""Each variation changes what it names and nothing controlled else; what cannot be applied says why."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline import vary
from pipeline.engine import build, layout, sandbox
from pipeline.engine.build import BuildSettings
from pipeline.errors import VariationUnavailable
from pipeline.records import VARIATIONS

FULL = vary.Machine(isolated=True, faketime="/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                    locale={"LC_ALL": "fr_FR.UTF-8", "LANG": "fr_FR.UTF-8", "LOCPATH": "/cache/locales"},
                    locale_dir="/cache/locales", cpus=frozenset({0, 1}), zoneinfo=True,
                    clock=(sandbox.Mount("/cache/clock.so", target="/opt/wheelrepro/clock.so"),
                           sandbox.Mount("/cache/clock.so.preload", target="/etc/ld.so.preload")))


BARE = vary.Machine(isolated=False, faketime=None, locale=None, cpus=frozenset({0}), zoneinfo=False)


BASE = BuildSettings(build_dir=Path("/tmp/wheelrepro/cp311/pkg-1.0"))


def test_all_variations_change_what_they_name_and_nothing_controlled_else():
    varied = vary.vary(BASE, VARIATIONS, FULL)

    assert varied.variations == VARIATIONS
    assert varied.build_dir == Path("/tmp/wheelrepro-alt/cp311/pkg-1.0")
    assert not any("LD_PRELOAD" in word or "FAKETIME" in word for word in varied.wrapper), "the clock library, not libfaketime"
    assert varied.env_vars["TZ"] == "Pacific/Chatham"
    assert varied.env_vars["LC_ALL"] == varied.env_vars["LANG"] == "fr_FR.UTF-8"
    assert varied.mounts == (*FULL.clock, sandbox.Mount("/cache/locales"))
    assert varied.umask == 0o002 and varied.hostname != BASE.hostname
    assert varied.env_vars["PYTHONHASHSEED"] == "12345" and varied.home != BASE.home
    assert (varied.user, varied.uid) == ("varied", BASE.uid + sandbox.UID_POOL)
    assert varied.cpus == frozenset({0})
    assert varied.env_vars["SOURCE_DATE_EPOCH"] == BASE.env_vars["SOURCE_DATE_EPOCH"], "time moves, SDE does not"
    assert varied.reordered and not BASE.reordered
    # one setarch with both personalities (a nested one would drop the outer's)
    assert varied.wrapper[:3] == (vary.SETARCH, vary.NO_ASLR, vary.KERNEL)
    assert varied.path_dirs == (vary.EXEC_PATH,) and vary.EXEC_PATH in varied.dirs
    assert varied.domainname == vary.DOMAIN and BASE.domainname is None
    assert varied.env_vars[vary.EXTRA_VARIABLE[0]] == vary.EXTRA_VARIABLE[1]
    assert BASE.env_vars["TZ"] == "UTC" and BASE.variations == (), "the controlled settings are not touched"


@pytest.mark.parametrize("name", VARIATIONS)
def test_each_variation_alone_changes_the_settings(name):
    varied = vary.vary(BASE, [name], FULL)
    assert varied.variations == (name,)
    assert varied != dataclasses.replace(BASE, variations=(name,))


def test_what_a_bare_machine_cannot_vary_is_not_tested_with_a_reason():
    reasons = vary.unavailable(BASE, BARE)

    assert set(reasons) == {"time", "locale", "hostname", "user", "cpu_count", "file_order", "domain"}
    assert "faketime" in reasons["time"] and "one CPU" in reasons["cpu_count"]
    unsandboxed = dataclasses.replace(FULL, isolated=False)
    assert set(vary.unavailable(BASE, unsandboxed)) == {"hostname", "user", "cpu_count", "file_order", "domain"}
    assert vary.vary(BASE, ["timezone"], BARE).env_vars["TZ"] == vary.TIMEZONE_RULE


@pytest.mark.parametrize("name", ["file_order", "kernel", "domain", "aslr"])
def test_what_the_probe_found_unusable_is_not_tested_with_its_reason(name):
    machine = dataclasses.replace(FULL, unusable={name: "the probe saw no change"})

    assert vary.unavailable(BASE, machine) == {name: "the probe saw no change"}
    with pytest.raises(VariationUnavailable):
        vary.vary(BASE, [name], machine)


def test_the_extra_path_entry_comes_first_and_exists_in_the_sandbox():
    view = layout.PythonView(tag="cp311", minor="3.11", host_prefix="/usr", prefix="/opt/python/cp311",
                             executable="/opt/python/cp311/bin/python3", host_executable="/usr/bin/python3")
    varied = vary.vary(BASE, ["exec_path"], FULL)

    assert build._env(varied, view)["PATH"].split(":")[:2] == [vary.EXEC_PATH, f"{layout.VENV}/bin"]
    assert build._env(BASE, view)["PATH"].split(":")[0] == f"{layout.VENV}/bin"
    assert vary.EXEC_PATH in varied.dirs, "the folder exists (empty) in the sandbox"


def test_libfaketime_moves_the_clock_only_where_the_clock_library_cannot():
    unsandboxed = dataclasses.replace(FULL, isolated=False)
    varied = vary.vary(BASE, ["time"], unsandboxed)
    assert varied.wrapper[:2] == ("env", f"LD_PRELOAD={FULL.faketime}") and "FAKETIME=+400d" in varied.wrapper
    assert varied.mounts == (), "no private /etc/ld.so.preload without the sandbox"
    no_compiler = dataclasses.replace(FULL, clock=())
    assert f"LD_PRELOAD={FULL.faketime}" in vary.vary(BASE, ["time"], no_compiler).wrapper
    with pytest.raises(VariationUnavailable, match="no C compiler for the clock library"):
        vary.vary(BASE, ["time"], dataclasses.replace(FULL, clock=(), faketime=None))
