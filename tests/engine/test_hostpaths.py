"""--unsandboxed: in-sandbox paths become host paths, private mounts a scratch folder removed afterwards."""

from __future__ import annotations

import os

from pipeline.engine import hostpaths
from pipeline.engine.sandbox import Limits, Mount, Spec


def test_paths_are_translated_most_specific_first_and_scratch_is_removed(tmp_path):
    spec = Spec(argv=("/opt/python/cp312/bin/python3.12", "/opt/wheelrepro/inside.py", "--into",
                      "/tmp/wheelrepro/cp312/x-1.0", "-m", "build"),
                env={"PATH": "/opt/venv/bin:/usr/bin", "HOME": "/tmp/home", "TMPDIR": "/tmp", "TZ": "UTC"},
                cwd="/tmp", dirs=("/tmp/home",),
                mounts=(Mount("/root/.pyenv/versions/3.12.1", target="/opt/python/cp312"),
                        Mount("/cache/sysconfig.py", target="/opt/python/cp312/lib/python3.12/_sysconfigdata.py"),
                        Mount(str(tmp_path / "venv"), target="/opt/venv"),
                        Mount("/repo/pipeline/engine/inside.py", target="/opt/wheelrepro/inside.py")))
    launch = hostpaths.launch(spec, Limits())
    scratch = os.path.dirname(launch.cwd)
    try:
        argv = launch.argv[3:] if launch.argv[0] == "unshare" else launch.argv
        assert argv[0] == "/root/.pyenv/versions/3.12.1/bin/python3.12"
        assert argv[1] == "/repo/pipeline/engine/inside.py"
        assert argv[3].startswith(scratch) and argv[3].endswith("/wheelrepro/cp312/x-1.0")
        assert launch.env["PATH"] == f"{tmp_path}/venv/bin:/usr/bin" and launch.env["TZ"] == "UTC"
        assert launch.env["HOME"].startswith(scratch) and os.path.isdir(launch.env["HOME"])
        assert launch.argv[0] == ("unshare" if os.geteuid() == 0 else argv[0]), "offline as root: a new net namespace"
    finally:
        launch.cleanup()
    assert not os.path.exists(scratch)
