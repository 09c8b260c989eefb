"""The installed command, as a project's CI uses it: installed like pipx does, run from the project's
folder on a local sdist and a hashed requirements file, leaving a verified wheelhouse behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sdists import intree_sdist


def _offline_pip_env(wheelhouse: Path) -> dict[str, str]:
    """pip reads only the wheelhouse (this machine's pip configuration is left out)."""
    return {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheelhouse) -> Path:
    """``wheelrepro`` installed from a copy of the source tree into a venv of its own, offline."""
    if not any(wheelhouse.glob("jinja2-*.whl")) or not any(wheelhouse.glob("uv-*.whl")):
        pytest.fail(f"the tool's dependencies are not in {wheelhouse}: run the tests with `nox -s tests`")
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "pipeline", source / "pipeline", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "environments", source / "environments")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)  # pip from ensurepip: offline
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(source)],
                   env=_offline_pip_env(wheelhouse), check=True, timeout=300)
    return venv


@pytest.mark.slow
def test_the_console_script_checks_a_project_from_its_own_folder(installed, index, tmp_path, wheelhouse, sandboxed,
                                                                 shared_out):
    good = intree_sdist("goodpkg", "1.0")
    index.add("goodpkg", "goodpkg-1.0.tar.gz", good)
    index.add("badpkg", "badpkg-1.0.tar.gz", intree_sdist("badpkg", "1.0"))
    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    (project / "dist" / "localpkg-0.1.tar.gz").write_bytes(intree_sdist("localpkg", "0.1"))
    (project / "requirements.txt").write_text(
        "# a project's pinned requirements, with hashes as pip-compile writes them\n"
        f"goodpkg==1.0 \\\n    --hash=sha256:{hashlib.sha256(good).hexdigest()}\n"
        f"badpkg==1.0 \\\n    --hash=sha256:{'0' * 64}\n")

    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import pipeline; print(pipeline.__file__)"],
                           cwd=project, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(installed)), "the installed copy runs, not the checkout"
    command = [str(installed / "bin" / "wheelrepro"), "check", "dist/localpkg-0.1.tar.gz", "-r", "requirements.txt",
               "--python", "3.11", "--index-url", index.url, "--find-links", str(wheelhouse), "--out", "out",
               "--wheelhouse", "wheels", "--json", "results.json", *([] if sandboxed else ["--unsandboxed"])]
    proc = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)

    assert proc.returncode == 2, proc.stderr  # badpkg's sdist is refused: could not be checked
    assert "refused: requirements.txt:4: badpkg==1.0" in proc.stderr and "matches none of the 1 --hash" in proc.stderr
    records = {r["name"]: r for r in json.loads((project / "results.json").read_text())}
    assert {name: r["status"] for name, r in records.items()} == {
        "localpkg": "reproducible", "goodpkg": "reproducible", "badpkg": "error"}
    assert (project / "out" / "results.sqlite").is_file(), "--out is relative to where the command runs"
    assert records["localpkg"]["builds"][0]["path"].startswith(str(project / "out" / "builds"))

    wheels = project / "wheels"
    names = ["goodpkg-1.0-py3-none-any.whl", "localpkg-0.1-py3-none-any.whl"]
    assert sorted(p.name for p in wheels.glob("*.whl")) == names
    sums = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=wheels, capture_output=True,
                          text=True)
    assert sums.returncode == 0 and sums.stdout.count(": OK") == 2, sums.stdout + sums.stderr
    lock = [line for line in (ROOT / "environments" / "cp311.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    for name in names:
        env = wheels / f"{name}.buildenv" / "cp311"
        toolchain = [line for line in (env / "toolchain.txt").read_text().splitlines() if not line.startswith("#")]
        assert toolchain == sorted(lock), "the toolchain the wheel was built with, from the installed package"
        assert (env / "build.txt").is_file()
        record = json.loads((env / "result.json").read_text())
        assert record["status"] == "reproducible" and record["builds"][0]["sha256"] == \
            hashlib.sha256((wheels / name).read_bytes()).hexdigest()
    assert "wheelhouse wheels: 2 wheels" in proc.stderr

    version = subprocess.run([str(installed / "bin" / "python"), "-m", "pipeline", "--version"], cwd=project,
                             capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("wheelrepro ")
