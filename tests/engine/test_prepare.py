"""Getting a release ready: requirements that publish only an sdist are built first and locked by digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.engine import sandbox
from pipeline.engine.prepare import Extra, Prepared, built_links
from pipeline.engine.workspace import Workspace
from tests.attacks import attack_sdist


def test_the_controlled_settings_carry_the_crates_and_the_constant_build_path(tmp_path):
    extra = Extra(mounts=(sandbox.Mount("/host/crates/registry/src", target="/tmp/wheelrepro-cargo/registry/src"),),
                  env={"CARGO_HOME": "/tmp/wheelrepro-cargo"}, dirs=("/tmp/wheelrepro-cargo",))
    prepared = Prepared(target=None, interpreter=None, uid=sandbox.UID_BASE + 3, environment=None,
                        build_dir=Path("/tmp/wheelrepro/cp312/x-1.0"), keep_dir=tmp_path, extra=extra)
    settings = prepared.controlled()
    assert settings.build_dir == Path("/tmp/wheelrepro/cp312/x-1.0") and settings.uid == sandbox.UID_BASE + 3
    assert settings.mounts == extra.mounts and settings.dirs == extra.dirs
    assert settings.env_vars["CARGO_HOME"] == "/tmp/wheelrepro-cargo" and settings.env_vars["TZ"] == "UTC"


def test_a_lock_finds_the_wheels_built_for_it_by_digest(tmp_path):
    workspace = Workspace(tmp_path)
    (workspace.built / ("a" * 64)).mkdir(parents=True)
    lock = (f"docopt==0.6.2 --hash=sha256:{'a' * 64}", f"setuptools==80 --hash=sha256:{'b' * 64}")
    assert built_links(workspace, lock) == (str(workspace.built / ("a" * 64)),)


@pytest.mark.slow
@pytest.mark.skipif(sandbox.sandbox_works() is not None, reason="needs the sandbox")
def test_a_chain_of_sdist_only_requirements_is_built_offline_and_locked_by_digest(index, make_checker, interpreters,
                                                                                  shared_out):
    index.add("lowest", "lowest-1.0.tar.gz", attack_sdist("lowest", "1.0"))
    index.add("middle", "middle-2.0.tar.gz", attack_sdist("middle", "2.0", requires=("lowest",)))
    index.add("middle", "middle-1.0.tar.gz", attack_sdist("middle", "1.0", requires=("lowest",)))
    index.add("top", "top-1.0.tar.gz", attack_sdist("top", "1.0", requires=("middle<2",)))
    checker = make_checker(index)
    result = checker.check(checker.target("top"), interpreters.get("3.11") or next(iter(interpreters.values())))

    assert result.status == "reproducible", result.message
    assert [line.split(" ")[0] for line in result.environment.requirements] == ["middle==1.0"], \
        "the newest version the requirement allows, built from its sdist"
    digest = result.environment.requirements[0].rpartition("sha256:")[2]
    assert (shared_out / "cache" / "built" / digest / "middle-1.0-py3-none-any.whl").is_file()
    assert list((shared_out / "cache" / "built").rglob("lowest-1.0-py3-none-any.whl")), \
        "middle's own sdist-only requirement was built for its build"


@pytest.mark.slow
@pytest.mark.skipif(sandbox.sandbox_works() is not None, reason="needs the sandbox")
def test_a_requirement_that_needs_itself_is_build_failed_not_a_loop(index, make_checker, interpreters):
    index.add("ouroboros", "ouroboros-1.0.tar.gz", attack_sdist("ouroboros", "1.0", requires=("ouroboros",)))
    checker = make_checker(index)
    result = checker.check(checker.target("ouroboros"), interpreters.get("3.11") or next(iter(interpreters.values())))
    assert result.status == "build-failed" and "needs itself" in result.message, result.message


@pytest.mark.slow
@pytest.mark.skipif(sandbox.sandbox_works() is not None, reason="needs the sandbox")
def test_two_checks_of_one_release_at_once_do_not_collide(index, make_checker, interpreters):
    """Two checkers (as two processes would be) on the same release and interpreter, at the same time."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.sdists import cext_sdist

    index.add("twice", "twice-1.0.tar.gz", cext_sdist("twice", "1.0"))
    checkers = [make_checker(index), make_checker(index)]
    python = interpreters.get("3.11") or next(iter(interpreters.values()))
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda checker: checker.check(checker.target("twice"), python), checkers))
    assert [r.status for r in results] == ["reproducible", "reproducible"], [r.message for r in results]
    assert results[0].builds[0].sha256 == results[1].builds[0].sha256
    assert all(Path(build.path).is_file() for result in results for build in result.builds)
