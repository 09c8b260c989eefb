"""Against the real PyPI (``nox -s tests_network``): one small package, end to end."""

from __future__ import annotations

import pytest

from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.net import Client
from pipeline.engine.resolve import resolve_release
from pipeline.records import PYPI_SIMPLE

pytestmark = pytest.mark.network


def test_six_is_reproducible_from_pypi(tmp_path, interpreters, sandboxed):
    checker = Checker(CheckOptions(out=tmp_path / "out", unsandboxed=not sandboxed))
    target = checker.target("six==1.17.0")
    result = checker.check(target, interpreters.get("3.12") or next(iter(interpreters.values())))

    assert result.status == "reproducible", result.message
    assert result.sdist.url.startswith("https://files.pythonhosted.org/")
    assert result.sdist.sha256 == "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81"
    assert any(line.startswith("setuptools==") for line in result.environment.requirements)
    assert result.builds[0].wheel == "six-1.17.0-py2.py3-none-any.whl"


def test_pypi_resolution_uses_pep_691_and_knows_wheels(tmp_path):
    release = resolve_release(Client(tmp_path / "http"), PYPI_SIMPLE, "six==1.17.0")
    assert release.sdist.upload_time and release.sdist.size
    assert [w.filename for w in release.wheels] == ["six-1.17.0-py2.py3-none-any.whl"]
