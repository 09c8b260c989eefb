"""Benchmarks of the nightly: a warm run with nothing to build, scheduling overhead, memory.

1. warm: 100 projects on a local index served over http://127.0.0.1, every interpreter found,
   the store already holding a verdict for each: the real resolver and the real interpreter
   discovery run, the build engine must not be called at all.
2. overhead: a fake engine that sleeps known durations on real threads; the ratio is the run's
   wall time over (sum of the measured build times / jobs), cold and with past durations known.
3. memory: the orchestrator's peak RSS for 100 projects x 5 interpreters, in a fresh subprocess
   (the builds are fakes that cost nothing, so this is the nightly's own footprint).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

from pipeline.engine.options import CheckOptions
from pipeline.nightly.lists import ListEntry
from pipeline.nightly.plan import Slot
from pipeline.nightly.run import Engine, NightlyOptions, run_nightly
from pipeline.nightly.store import Store
from pipeline.records import Artifact, Build, Environment, Release, Result
from tests.bench import Figure

AREA = "nightly"
PROJECTS = 100


def _fake_result(release: Release, slot: Slot, seconds: float, status: str = "reproducible") -> Result:
    wheel = f"{release.name.replace('-', '_')}-{release.version}-py3-none-any.whl"
    env = Environment("f" * 64, slot.base, slot.python, slot.interpreter, ("pip==26.3 --hash=sha256:" + "0" * 64,) * 4,
                      ("setuptools==80 --hash=sha256:" + "1" * 64,) * 3, "/out/envs/x")
    builds = tuple(Build(wheel, "a" * 64, seconds / 2, f"/out/builds/{wheel}", "/out/log", 0, "/tmp/b") for _ in range(2))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return Result(release.name, release.version, slot.python, slot.interpreter, status, stamp, stamp,  # type: ignore[arg-type]
                  f"nox -s check -- {release.name}=={release.version}", sdist=release.sdist, environment=env, builds=builds)


def _write_index(root: Path, names: list[str]) -> None:
    """A PEP 503 index of ``names``, one release each (the sdists themselves are never fetched)."""
    for name in names:
        page = root / "simple" / name
        page.mkdir(parents=True, exist_ok=True)
        filename = f"{name}-1.0.tar.gz"
        digest = hashlib.sha256(filename.encode()).hexdigest()
        (page / "index.html").write_text(
            f'<!DOCTYPE html><html><body><a href="../../files/{filename}#sha256={digest}">{filename}</a></body></html>'
        )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def warm_run(workdir: Path) -> Iterator[Figure]:
    from pipeline.nightly import engine as nightly_engine

    names = [f"bench-project-{i:03d}" for i in range(PROJECTS)]
    _write_index(workdir / "index", names)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(workdir / "index")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
        options = NightlyOptions(out_dir=workdir / "out", tick=60.0,
                                 check=CheckOptions(out=workdir / "out", index_url=url, unsandboxed=True))
        real = nightly_engine.engine(options.check)

        def must_not_build(release: Release, slot: Slot) -> Result:
            raise AssertionError(f"warm run built {release.name} on {slot.interpreter}")

        engine = Engine(find_slots=real.find_slots, resolve=real.resolve, check=must_not_build)
        slots = real.find_slots(()).slots
        pythons = tuple(slot.python for slot in slots)
        with Store.open(options.out_dir) as store:
            for name in names:
                releases = real.resolve(name, None, url, pythons)
                for slot in slots:
                    store.add(_fake_result(releases[slot.python], slot, 1.0), base=slot.base)
        entries = [ListEntry(n, None, f"bench:{i}") for i, n in enumerate(names, 1)]
        start = time.perf_counter()
        summary = run_nightly(engine, options, entries)
        seconds = time.perf_counter() - start
    finally:
        server.shutdown()
        server.server_close()
    assert not summary.built and len(summary.skipped) == PROJECTS * len(slots)
    yield Figure(AREA, f"warm run, {PROJECTS} projects x {len(slots)} interpreters, nothing new", seconds, "s",
                 "< 10 s", seconds < 10)
    yield Figure(AREA, "  of which resolving on the local index", summary.phases.get("resolve", 0.0), "s")


def _sleeping_engine(durations: dict[str, float], measured: list[float]) -> Engine:
    slots = [Slot("cp312", "3.12.0", "bench-base")]
    lock = threading.Lock()

    def check(release: Release, slot: Slot) -> Result:
        start = time.perf_counter()
        time.sleep(durations[release.name])
        took = time.perf_counter() - start
        with lock:
            measured.append(took)
        return _fake_result(release, slot, took)

    def resolve(name: str, version: str | None, index_url: str, pythons: tuple[str, ...]) -> dict[str, Release]:
        release = Release(name, "1.0", Artifact(f"{name}-1.0.tar.gz", f"file:///x/{name}-1.0.tar.gz", "0" * 64))
        return dict.fromkeys(pythons, release)

    return Engine(find_slots=lambda pythons: slots, resolve=resolve, check=check)


def overhead(workdir: Path, jobs: int = 4) -> Iterator[Figure]:
    # 32 pure "builds" of 0.05 .. 0.6 s: what matters is the idle time the scheduler leaves.
    durations = {f"pure-{i:02d}": 0.05 + (i * 7 % 12) * 0.05 for i in range(32)}
    entries = [ListEntry(n, None, f"bench:{i}") for i, n in enumerate(durations, 1)]
    for label, force in (("cold (no past durations)", False), ("longest first (past durations)", True)):
        measured: list[float] = []
        options = NightlyOptions(out_dir=workdir / "overhead", jobs=jobs, force=force, tick=60.0)
        start = time.perf_counter()
        run_nightly(_sleeping_engine(durations, measured), options, entries)
        wall = time.perf_counter() - start
        ideal = sum(measured) / jobs
        ratio = wall / ideal
        yield Figure(AREA, f"overhead, {label}: wall / (builds / {jobs} jobs)", ratio, "x", "<= 1.15", ratio <= 1.15)


MEMORY_SCRIPT = """
import resource, sys, time
from pathlib import Path
from tests.bench.nightly import _fake_result
from pipeline.nightly.lists import ListEntry
from pipeline.nightly.run import Engine, NightlyOptions, run_nightly
from pipeline.nightly.plan import Slot
from pipeline.records import Artifact, Release

before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
slots = [Slot(f"cp3{m}", f"3.{m}.0", f"base-{m}") for m in (9, 10, 11, 12, 13)]
resolve = lambda n, v, i, pythons: dict.fromkeys(pythons, Release(n, "1.0", Artifact(n + "-1.0.tar.gz", "file:///x/" + n, "0" * 64)))
engine = Engine(find_slots=lambda p: slots, resolve=resolve, check=lambda r, s: _fake_result(r, s, 1.0))
entries = [ListEntry(f"project-{i:03d}", None, "bench") for i in range(int(sys.argv[2]))]
for _ in range(2):  # a cold night, then a forced one reading the whole history back
    options = NightlyOptions(out_dir=Path(sys.argv[1]), jobs=4, tick=60.0, force=_ == 1)
    # the render hook holds every result at once, as the site renderer will
    summary = run_nightly(engine, options, entries, render=lambda results, out: len(results))
assert len(summary.built) == len(entries) * len(slots)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory(workdir: Path) -> Iterator[Figure]:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(workdir / "memory"), str(PROJECTS)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    before, peak = (int(v) / 1024 for v in out)
    yield Figure(AREA, f"orchestrator peak RSS, {PROJECTS} projects x 5 interpreters", peak, "MB", "< 200 MB", peak < 200)
    yield Figure(AREA, "  of which the interpreter and imports alone", before, "MB")


def run(workdir: Path) -> Iterator[Figure]:
    yield from warm_run(workdir / "warm")
    yield from overhead(workdir / "overhead")
    yield from memory(workdir / "memory")


if __name__ == "__main__":  # python -m pipeline.bench.nightly [WORKDIR]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-nightly-") as tmp:
        for figure in run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp)):
            print(figure.line(), flush=True)
