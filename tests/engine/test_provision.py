"""Provisioning's pure pieces: merged locks, how builds see fetched crates, cached locks, built wheels."""

from __future__ import annotations

import pytest

from pipeline.engine import provision
from pipeline.engine.provision import (
    CARGO_HOME,
    copy_wheel,
    crate_access,
    load_lock,
    merge_locks,
    save_lock,
)

H = "--hash=sha256:"


def test_the_build_lock_wins_over_the_toolchain_for_the_same_project():
    toolchain = (f"build==1.2 {H}{'a' * 64}", f"packaging==26.4 {H}{'b' * 64}")
    build = (f"packaging==24.0 {H}{'c' * 64}", f"setuptools==80 {H}{'d' * 64}")
    assert merge_locks(toolchain, build) == [f"build==1.2 {H}{'a' * 64}", f"packaging==24.0 {H}{'c' * 64}",
                                             f"setuptools==80 {H}{'d' * 64}"]


def test_builds_see_fetched_crates_read_only_and_write_only_their_own_folders(tmp_path):
    (tmp_path / "registry" / "cache").mkdir(parents=True)
    (tmp_path / "registry" / "src").mkdir(parents=True)
    (tmp_path / "git").mkdir()
    (tmp_path / "git" / "db").symlink_to("/etc")  # a link left by a fetch is never shown
    mounts, dirs = crate_access(tmp_path)
    assert {(m.path, m.inside, m.writable) for m in mounts} == {
        (str(tmp_path / "registry" / "cache"), f"{CARGO_HOME}/registry/cache", False),
        (str(tmp_path / "registry" / "src"), f"{CARGO_HOME}/registry/src", False)}
    assert f"{CARGO_HOME}/git/db" in dirs and f"{CARGO_HOME}/registry/index" in dirs and CARGO_HOME in dirs


def test_a_saved_lock_reads_back_the_same(tmp_path):
    lines = ("a==1 --hash=sha256:" + "0" * 64, "b==2 --hash=sha256:" + "1" * 64)
    save_lock(tmp_path / "x" / "lock.txt", lines)
    assert load_lock(tmp_path / "x" / "lock.txt") == lines
    assert load_lock(tmp_path / "missing.txt") is None


def test_a_built_requirement_wheel_is_kept_by_its_digest_once(tmp_path):
    wheel = tmp_path / "docopt-0.6.2-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    folder = copy_wheel(wheel, tmp_path / "built", "f" * 64)
    assert folder == tmp_path / "built" / ("f" * 64) and (folder / wheel.name).read_bytes() == b"wheel bytes"
    wheel.write_bytes(b"other bytes")
    assert copy_wheel(wheel, tmp_path / "built", "f" * 64) == folder
    assert (folder / wheel.name).read_bytes() == b"wheel bytes"


@pytest.mark.parametrize("log, names", [
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because docopt==0.6.2 has no usable wheels and you "
     "require docopt==0.6.2, we can conclude that your requirements are unsatisfiable.\n", ["docopt"]),
    ("Because all versions of evil-pkg have no usable wheels and you require evil-pkg, we can conclude ...\n"
     "hint: Wheels are required for `evil-pkg` because building from source is disabled\n", ["evil-pkg"]),
    ("Because evilonly==1.0 has no usable wheels and only evilonly==1.0 is available, we can conclude that all "
     "versions of evilonly cannot be used. And because all versions of goodpkg depend on evilonly ...", ["evilonly"]),
    ("Because goodpkg==1 depends on evilonly and evilonly==1.0 has no usable wheels, ...", ["evilonly"]),
])
def test_requirements_with_only_an_sdist_are_named_from_uvs_words(log, names):
    found = sorted({m.group(1).lower() for pattern in provision._SDIST_ONLY for m in pattern.finditer(log)})
    assert found == names


@pytest.mark.network
def test_old_toolchains_resolve_wheels_only_as_of_a_date(tmp_path, interpreters):
    """The upstream rebuild's question: what `setuptools==75.6.0` and `wheel` were as of 2025-03-01."""
    from pipeline.engine import sandbox
    from pipeline.engine.check import Checker, CheckOptions
    from pipeline.errors import BuildRequirementsFailed

    checker = Checker(CheckOptions(out=tmp_path / "out", unsandboxed=sandbox.sandbox_works() is not None))
    python = interpreters.get("3.12") or next(iter(interpreters.values()))
    with sandbox.lease_uid() as uid:
        lock = checker.provisioner.resolve(python, ["setuptools==75.6.0", "wheel"], tmp_path / "log", uid,
                                           exclude_newer="2025-03-01T00:00:00Z")
        assert [line.split(" ")[0] for line in lock] == ["setuptools==75.6.0", "wheel==0.45.1"]
        assert all(len(line.rpartition("sha256:")[2]) == 64 for line in lock)
        with pytest.raises(BuildRequirementsFailed):
            checker.provisioner.resolve(python, ["setuptools==80.9.0"], tmp_path / "log", uid,
                                        exclude_newer="2025-03-01T00:00:00Z")
