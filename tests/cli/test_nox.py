"""`nox -s check`, the documented way to run a check: the command's exit codes reach the shell unchanged
(nox alone turns every failure into 1), stdout stays the command's, and paths are the caller's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.sdists import intree_sdist


def _nox(project: Path, wheelhouse: Path, envdir: Path, *args: str, reuse: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    command = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "--envdir", str(envdir),
               *(["-R"] if reuse else []), "-s", "check", "--", *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_nox_check_passes_the_exit_code_through(index, tmp_path, wheelhouse, sandboxed):
    index.add("randpkg", "randpkg-1.0.tar.gz", intree_sdist("randpkg", "1.0", behaviour="random"))
    project = tmp_path / "project"
    (project / "dist").mkdir(parents=True)
    (project / "dist" / "okpkg-1.0.tar.gz").write_bytes(intree_sdist("okpkg", "1.0"))
    common = ["--python", "3.11", "--index-url", index.url, "--find-links", str(wheelhouse),
              *([] if sandboxed else ["--unsandboxed"])]
    envdir = tmp_path / "nox-envs"

    refused = _nox(project, wheelhouse, envdir, "nosuchpkg", *common, reuse=False)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refused: nosuchpkg: no project named 'nosuchpkg'" in refused.stderr

    ok = _nox(project, wheelhouse, envdir, "dist/okpkg-1.0.tar.gz", "--json", "-", *common, reuse=True)
    assert ok.returncode == 0, ok.stderr
    assert [r["status"] for r in json.loads(ok.stdout)] == ["reproducible"], "stdout is the JSON alone"
    assert (project / "out" / "results.sqlite").is_file(), "relative paths are the caller's, not the noxfile's"

    differs = _nox(project, wheelhouse, envdir, "randpkg", *common, reuse=True)
    assert differs.returncode == 1, differs.stderr
