"""Hostile sdists: each attack fails, the run goes on, and nothing outside the build changes."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipeline.engine import sandbox
from pipeline.nightly.store import Store
from pipeline.records import Result
from tests.sdists import intree_sdist

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sandbox.sandbox_works() is not None, reason=str(sandbox.sandbox_works()))]


def _snapshot(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and not p.is_symlink() and "builds" not in p.parts}


@pytest.fixture
def guarded_out(shared_out):
    """The out/ a hostile build would love to forge: a results store and a site page."""
    (shared_out / "site").mkdir(exist_ok=True)
    (shared_out / "site" / "index.html").write_text("<p>honest site</p>")
    with Store.open(shared_out) as store:  # a real store: later tests share this out/
        store.add(Result(name="honest", version="1", python="3.11.7", interpreter="cp311", status="reproducible",
                         started="2026-01-01T00:00:00Z", finished="2026-01-01T00:00:01Z", reproduce="r"))
    return shared_out


def _check(checker, interpreter, name):
    return checker.check(checker.target(name), interpreter)


def _wheel_text(result) -> str:
    with zipfile.ZipFile(result.builds[0].path) as zf:
        return "\n".join(zf.read(n).decode() for n in zf.namelist() if n.endswith("__init__.py"))


def _unchanged(before: dict[str, str], after: dict[str, str]) -> None:
    changed = {k for k in before if after.get(k) != before[k]}
    assert not changed, f"a build changed {sorted(changed)}"


def test_writing_into_the_store_and_site_fails(index, make_checker, interpreters, guarded_out):
    targets = (str(guarded_out / "results.sqlite"), str(guarded_out / "site" / "index.html"), "/etc/hostname")
    index.add("forger", "forger-1.0.tar.gz", intree_sdist("forger", "1.0", "hostile", targets))
    before = _snapshot(guarded_out)
    result = _check(make_checker(index), interpreters["3.11"], "forger")

    assert result.status == "reproducible"
    text = _wheel_text(result)
    assert all(f"blocked {t}" in text for t in targets) and "wrote" not in text
    assert "network blocked" in text
    _unchanged(before, _snapshot(guarded_out))


def test_a_secret_in_the_parent_environment_never_reaches_the_wheel(index, make_checker, interpreters, monkeypatch):
    monkeypatch.setenv("PYPI_TOKEN", "pypi-fake-secret-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-aws-secret")
    index.add("snoop", "snoop-1.0.tar.gz", intree_sdist("snoop", "1.0", "env"))
    result = _check(make_checker(index), interpreters["3.11"], "snoop")

    text = _wheel_text(result)
    assert "SOURCE_DATE_EPOCH" in text, "the wheel shows what the build saw"
    assert "fake-secret" not in text and "PYPI_TOKEN" not in text and "AWS_" not in text


def test_a_process_left_running_does_not_survive_the_build(index, make_checker, interpreters):
    index.add("lingerer", "lingerer-1.0.tar.gz", intree_sdist("lingerer", "1.0", "daemon"))
    result = _check(make_checker(index), interpreters["3.11"], "lingerer")

    assert result.status == "reproducible"
    survivors = subprocess.run(["pgrep", "-f", "while true; do sleep 1"], capture_output=True, text=True).stdout
    assert survivors.strip() == ""


def test_a_fork_bomb_is_contained_and_the_run_goes_on(index, make_checker, interpreters):
    index.add("bomber", "bomber-1.0.tar.gz", intree_sdist("bomber", "1.0", "forkbomb"))
    index.add("calm", "calm-1.0.tar.gz", intree_sdist("calm", "1.0"))
    checker = make_checker(index)
    bomb = _check(checker, interpreters["3.11"], "bomber")
    assert bomb.status in ("reproducible", "unreproducible", "build-failed")
    assert _check(checker, interpreters["3.11"], "calm").status == "reproducible"


def test_a_fork_bomb_does_not_starve_a_build_beside_it(index, make_checker, interpreters):
    """Each check runs as its own leased uid, so the per-uid process limit confines the bomb alone."""
    index.add("bomber2", "bomber2-1.0.tar.gz", intree_sdist("bomber2", "1.0", "forkbomb"))
    index.add("neighbour", "neighbour-1.0.tar.gz", intree_sdist("neighbour", "1.0"))
    checker = make_checker(index)
    checker.limits = dataclasses.replace(checker.limits, processes=64)
    targets = [checker.target("bomber2"), checker.target("neighbour")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda target: checker.check(target, interpreters["3.11"]), targets))
    assert results[1].status == "reproducible", results[1].message
    assert results[0].isolation.user != results[1].isolation.user


def test_a_10_gb_file_is_stopped_at_the_cap(index, make_checker, interpreters):
    index.add("filler", "filler-1.0.tar.gz", intree_sdist("filler", "1.0", "bigfile"))
    checker = make_checker(index)
    checker.limits = dataclasses.replace(checker.limits, file_size=64 * sandbox.MiB)
    result = _check(checker, interpreters["3.11"], "filler")

    assert result.status == "build-failed"
    big = Path(result.builds[0].build_dir) / "big.bin"
    assert not big.exists() or big.stat().st_size <= 64 * sandbox.MiB


def test_a_wheel_that_is_a_symlink_is_refused(index, make_checker, interpreters):
    index.add("linker", "linker-1.0.tar.gz", intree_sdist("linker", "1.0", "symlink-wheel"))
    result = _check(make_checker(index), interpreters["3.11"], "linker")

    assert result.status == "build-failed"
    assert "not a regular file" in result.message
    assert result.builds[0].path is None
