"""What the sandbox costs a pure package's build: the same build with and without bubblewrap.

The sandboxed build has everything a check gives it (minimal root, cgroup, seccomp, the unpack
inside, the wheel through a pipe); the unsandboxed one runs the same steps on the host.  Each has
its own environment (the venv of one does not work at the other's paths), made before timing.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Iterator

from pipeline.engine import sandbox
from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.interpreters import discover
from tests.bench import Figure

ROUNDS = 5


def run(workdir: Path) -> Iterator[Figure]:
    interpreter = next(i for i in discover(("3.12", "3.11")).found)
    checkers = {"bubblewrap": Checker(CheckOptions(out=workdir / "out")),
                "none": Checker(CheckOptions(out=workdir / "out-none", unsandboxed=True))}
    times: dict[str, list[float]] = {name: [] for name in checkers}
    with sandbox.lease_uid() as uid:
        prepared = {}
        for name, checker in checkers.items():
            target = checker.target("six==1.17.0")
            prepared[name] = checker.prepare(target, interpreter, uid).__enter__()
        for round_number in range(ROUNDS):
            for name, checker in checkers.items():  # interleaved, so drift hits both alike
                started = time.monotonic()
                build, reason = checker.rebuild(prepared[name], f"bench-{round_number}")
                if reason:
                    raise RuntimeError(f"bench build failed ({name}): {reason}")
                times[name].append(time.monotonic() - started)
    sandboxed, plain = statistics.median(times["bubblewrap"]), statistics.median(times["none"])
    yield Figure("sandbox", f"six build, unsandboxed (median of {ROUNDS})", plain, "s")
    yield Figure("sandbox", f"six build, bubblewrap + cgroup + seccomp (median of {ROUNDS})", sandboxed, "s")
    overhead = sandboxed - plain
    yield Figure("sandbox", "overhead per build", overhead, "s", "< 0.3 s", overhead < 0.3)
    yield Figure("sandbox", "ratio sandboxed / unsandboxed", sandboxed / plain, "x")
