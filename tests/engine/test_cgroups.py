"""Where the tracker's groups go: found from mountinfo and /proc/self/cgroup, as this machine and a v2 host have them."""

from __future__ import annotations

import os

import pytest

from pipeline.engine import cgroups

HYBRID_MOUNTS = """\
36 25 0:31 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
37 36 0:32 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
38 36 0:33 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 36 0:34 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 36 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_GROUPS = "8:pids:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n"


def test_cgroup_v1_folders_are_our_own_group_in_each_hierarchy():
    version, folders, why = cgroups.locate(HYBRID_MOUNTS, HYBRID_GROUPS)
    assert version == "v1" and why == ""
    assert folders == {"cpu": "/sys/fs/cgroup/cpu/", "memory": "/sys/fs/cgroup/memory/process_api/abc",
                       "pids": "/sys/fs/cgroup/pids/"}


def test_a_v1_hierarchy_missing_a_controller_is_said_plainly(tmp_path):
    mounts = "\n".join(line for line in HYBRID_MOUNTS.splitlines() if "pids" not in line and "cgroup2" not in line)
    version, _, why = cgroups.locate(mounts, HYBRID_GROUPS)
    assert version is None and "v1 has ['cpu', 'memory']" in why


def test_v2_is_used_when_our_group_offers_the_controllers(tmp_path):
    group = tmp_path / "user.slice" / "job.scope"
    group.mkdir(parents=True)
    (group / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    mounts = f"30 25 0:26 / {tmp_path} rw - cgroup2 cgroup2 rw\n"
    version, folders, _ = cgroups.locate(mounts, "0::/user.slice/job.scope\n")
    assert version == "v2" and folders == {"unified": str(group)}
    (group / "cgroup.controllers").write_text("cpu io\n")
    version, _, why = cgroups.locate(mounts, "0::/user.slice/job.scope\n")
    assert version is None and "not memory, pids and cpu" in why


def test_this_machine_says_what_it_gives():
    where = cgroups.support()
    assert where.describe().startswith("cgroup v") or where.describe().startswith("no cgroup (")
    if where.version:
        assert all(os.path.basename(parent) == f"wheelrepro-{os.getpid()}" for _, parent in where.parents)


@pytest.mark.skipif(cgroups.support().version is None, reason=cgroups.support().reason)
def test_a_group_has_the_limits_and_is_removed():
    group = cgroups.BuildGroup.create(cgroups.support(), memory=300 << 20, pids=50, cpu_weight=100)
    try:
        if group.version == "v1":
            assert open(f"{group.folders['memory']}/memory.limit_in_bytes").read().strip() == str(300 << 20)
            assert open(f"{group.folders['pids']}/pids.max").read().strip() == "50"
            assert open(f"{group.folders['cpu']}/cpu.shares").read().strip() == "1024"
    finally:
        usage = group.close()
    assert usage.oom_kills == 0 and not any(os.path.exists(folder) for folder in group.folders.values())
