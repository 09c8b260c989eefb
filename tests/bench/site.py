"""Site rendering speed and size on synthetic records: 5,000 projects x 5 Pythons x 3 versions."""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path
from typing import Iterator

from pipeline.records import (
    Artifact,
    Build,
    Difference,
    Environment,
    Isolation,
    Result,
    Upstream,
)
from tests.bench import Figure

INTERPRETERS = (("cp39", "3.9.21"), ("cp310", "3.10.16"), ("cp311", "3.11.11"), ("cp312", "3.12.9"), ("cp313", "3.13.2"))
CONTROLS = {
    "SOURCE_DATE_EPOCH": "315532800",
    "PYTHONHASHSEED": "0",
    "TZ": "UTC",
    "LC_ALL": "C.UTF-8",
    "umask": "022",
    "build_dir": "/build/src",
    "build_isolation": "off",
}
CAUSES = ("umask-leak", "embedded-build-path", "timestamps", "file-order", "random-build-dir", None)


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def synthetic_results(projects: int, versions: int = 3, *, seed: int = 5, interpreters=INTERPRETERS) -> list[Result]:
    """Plausible records: mostly reproducible, some unreproducible with causes, a few failures and errors."""
    rng = random.Random(seed)
    results = []
    for p in range(projects):
        name = f"project-{p:05d}"
        for v in range(versions):
            version = f"{1 + v}.{p % 7}.0"
            day = 1 + v * 9
            sdist = Artifact(f"{name}-{version}.tar.gz", f"https://files.example/{name}-{version}.tar.gz", _sha(rng))
            for tag, python in interpreters:
                roll = rng.random()
                status = (
                    "reproducible" if roll < 0.72 else "unreproducible" if roll < 0.9 else
                    "build-failed" if roll < 0.95 else "timeout" if roll < 0.97 else "no-sdist" if roll < 0.985 else "error"
                )
                wheel = f"{name.replace('-', '_')}-{version}-{tag}-{tag}-linux_x86_64.whl"
                first = _sha(rng)
                second = first if status == "reproducible" else _sha(rng)
                built = status in ("reproducible", "unreproducible")
                builds = tuple(
                    Build(wheel if built else None, sha if built else None, 3.2 + i, None,
                          f"out/logs/{name}/{version}/{tag}/build{i + 1}.log", 0 if built else 1, "/build/src")
                    for i, sha in enumerate((first, second))
                ) if status != "no-sdist" and status != "error" else ()
                diffs = tuple(
                    Difference(f"{name.replace('-', '_')}/_speedups.cpython-{tag[2:]}.so", "content",
                               "section .text differs; embedded path /tmp/pip-build-env-abc", rng.choice(CAUSES))
                    for _ in range(rng.randint(1, 3))
                ) if status == "unreproducible" else ()
                env = Environment(_sha(rng)[:32], _sha(rng)[:32], python, tag,
                                  ("setuptools==75.8.0 --hash=sha256:" + first[:16], "wheel==0.45.1"),
                                  ("cython==3.0.11",), f"/envs/{tag}")
                stamp = f"2025-03-{day + rng.randint(0, 8):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
                results.append(Result(
                    name=name, version=version, python=python, interpreter=tag, status=status,
                    started=stamp, finished=stamp, reproduce=f"nox -s check -- {name}=={version} --python {python}",
                    sdist=sdist if status != "no-sdist" else None, environment=env, builds=builds, differences=diffs,
                    variations={"umask": "differs", "timezone": "same"} if status == "unreproducible" else {},
                    sensitive_to=("umask",) if status == "unreproducible" else (),
                    upstream=Upstream("equivalent", wheel, None, _sha(rng)) if status == "reproducible" else None,
                    isolation=Isolation("unshare", True, "nobody"), controls=CONTROLS,
                    message="network unreachable" if status == "error" else "",
                ))
    return results


def run(workdir: Path) -> Iterator[Figure]:
    from pipeline.site import render_site

    records = synthetic_results(5000)
    site = workdir / "site"
    shutil.rmtree(site, ignore_errors=True)  # deleting an old site is the disk's time, not rendering's,
    os.sync()  # and so is the freeing it leaves the filesystem to finish in the background
    started = time.perf_counter()
    summary = render_site(records, site, generated="2025-03-31T00:00:00Z", log_root=workdir)
    seconds = time.perf_counter() - started
    yield Figure("site", f"render {len(records)} records ({summary.projects} projects, {summary.files} files)",
                 seconds, "s", "< 10 s", seconds < 10)
    kb = summary.home_bytes / 1024
    yield Figure("site", "home page size", kb, "KB", "< 300 KB", kb < 300)
    matrix_kb = (workdir / "site" / "matrix.html").stat().st_size / 1024
    yield Figure("site", "matrix page size (all rows, filtered client-side)", matrix_kb, "KB")
