"""What the sandbox costs a pure package's build: the same build with and without bubblewrap."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Iterator

from pipeline.engine import sandbox
from pipeline.engine.build import build_wheel
from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.interpreters import discover
from tests.bench import Figure

ROUNDS = 5


def run(workdir: Path) -> Iterator[Figure]:
    interpreter = next(i for i in discover(("3.12", "3.11")).found)
    checker = Checker(CheckOptions(out=workdir / "out"))
    target = checker.target("six==1.17.0")
    backends = {"bubblewrap": sandbox.BACKENDS["bubblewrap"](), "none": sandbox.BACKENDS["none"]()}
    times: dict[str, list[float]] = {name: [] for name in backends}
    with sandbox.lease_uid() as uid, checker.prepare(target, interpreter, uid) as prepared:
        for round_number in range(ROUNDS):
            for name, backend in backends.items():  # interleaved, so drift hits both alike
                started = time.monotonic()
                build, reason = build_wheel(sdist=target.sdist_path, project="six", env=prepared.environment,
                                            interpreter_prefix=interpreter.prefix, settings=prepared.controlled(),
                                            keep_dir=workdir / name / str(round_number), backend=backend,
                                            limits=sandbox.Limits(timeout=600))
                if reason:
                    raise RuntimeError(f"bench build failed: {reason}")
                times[name].append(time.monotonic() - started)
    sandboxed, plain = statistics.median(times["bubblewrap"]), statistics.median(times["none"])
    yield Figure("sandbox", "six build, unsandboxed (median of 5)", plain, "s")
    yield Figure("sandbox", "six build, bubblewrap (median of 5)", sandboxed, "s")
    overhead = sandboxed - plain
    yield Figure("sandbox", "overhead per build", overhead, "s", "< 0.3 s", overhead < 0.3)
    yield Figure("sandbox", "ratio sandboxed / unsandboxed", sandboxed / plain, "x")
