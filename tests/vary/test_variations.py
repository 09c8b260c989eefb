"""Each variation changes what it names and nothing controlled else; what cannot be applied says why."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline import vary
from pipeline.engine import sandbox
from pipeline.engine.build import BuildSettings
from pipeline.records import VARIATIONS

FULL = vary.Machine(isolated=True, faketime="/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                    locale={"LC_ALL": "fr_FR.UTF-8", "LANG": "fr_FR.UTF-8", "LOCPATH": "/cache/locales"},
                    locale_dir="/cache/locales", cpus=frozenset({0, 1}), zoneinfo=True)


BARE = vary.Machine(isolated=False, faketime=None, locale=None, cpus=frozenset({0}), zoneinfo=False)


BASE = BuildSettings(build_dir=Path("/tmp/wheelrepro/cp311/pkg-1.0"))


def test_all_variations_change_what_they_name_and_nothing_controlled_else():
    varied = vary.vary(BASE, VARIATIONS, FULL)

    assert varied.variations == VARIATIONS
    assert varied.build_dir == Path("/tmp/wheelrepro-alt/cp311/pkg-1.0")
    assert varied.wrapper[0] == "env" and f"LD_PRELOAD={FULL.faketime}" in varied.wrapper
    assert "FAKETIME=+400d" in varied.wrapper
    assert varied.env_vars["TZ"] == "Pacific/Chatham"
    assert varied.env_vars["LC_ALL"] == varied.env_vars["LANG"] == "fr_FR.UTF-8"
    assert varied.mounts == (sandbox.Mount("/cache/locales"),)
    assert varied.umask == 0o002 and varied.hostname != BASE.hostname
    assert varied.env_vars["PYTHONHASHSEED"] == "12345" and varied.home != BASE.home
    assert (varied.user, varied.uid) == ("varied", BASE.uid + sandbox.UID_POOL)
    assert varied.cpus == frozenset({0})
    assert varied.env_vars["SOURCE_DATE_EPOCH"] == BASE.env_vars["SOURCE_DATE_EPOCH"], "time moves, SDE does not"
    assert BASE.env_vars["TZ"] == "UTC" and BASE.variations == (), "the controlled settings are not touched"


@pytest.mark.parametrize("name", VARIATIONS)
def test_each_variation_alone_changes_the_settings(name):
    varied = vary.vary(BASE, [name], FULL)
    assert varied.variations == (name,)
    assert varied != dataclasses.replace(BASE, variations=(name,))


def test_what_a_bare_machine_cannot_vary_is_not_tested_with_a_reason():
    reasons = vary.unavailable(BASE, BARE)

    assert set(reasons) == {"time", "locale", "hostname", "user", "cpu_count"}
    assert "faketime" in reasons["time"] and "one CPU" in reasons["cpu_count"]
    unsandboxed = dataclasses.replace(FULL, isolated=False)
    assert set(vary.unavailable(BASE, unsandboxed)) == {"hostname", "user", "cpu_count"}
    assert vary.vary(BASE, ["timezone"], BARE).env_vars["TZ"] == vary.TIMEZONE_RULE
