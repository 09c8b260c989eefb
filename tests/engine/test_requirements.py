"""Which version of an sdist-only build requirement is built: the ranges every requirement naming it puts on it."""

from __future__ import annotations

from packaging.version import Version

from pipeline.engine.requirements import specifier_for


def test_every_range_on_the_name_counts_and_others_do_not():
    wanted = specifier_for("DocOpt", ["docopt>=0.5", "setuptools<70", "docopt<0.7; python_version>='3'"])
    assert wanted.contains(Version("0.6.2")) and not wanted.contains(Version("0.7")) and not wanted.contains("0.4")
    assert str(specifier_for("x", ["y"])) == ""
