"""The check, lock, wheelhouse, bench, diff and render commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from ..engine import environments
from . import report
from ..engine.sandbox import GiB
from ..engine.check import Checker, CheckOptions, Progress
from ..errors import PipelineError
from ..engine.interpreters import discover, parse_wanted
from ..records import Result
from ..engine.resolve import PYPI_SIMPLE



class LiveProgress:
    """Prints phase changes as they happen, and every ``every`` seconds what is still running."""

    def __init__(self, stream=sys.stderr, every: float = 20.0) -> None:
        self.stream = stream
        self.every = every
        self.started = time.monotonic()
        self.running: dict[tuple[str, str, str], tuple[str, float]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True)
        self.thread.start()

    def __call__(self, event: Progress) -> None:
        key = (event.name, event.version, event.interpreter)
        with self.lock:
            if event.phase == "done":
                self.running.pop(key, None)
            else:
                self.running[key] = (event.phase, time.monotonic())
            self._line(f"{event.name} {event.version} [{event.interpreter}] {event.phase}")

    def _line(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {text}", file=self.stream, flush=True)

    def _tick(self) -> None:
        while not self.stop.wait(self.every):
            with self.lock:
                for (name, version, tag), (phase, since) in sorted(self.running.items()):
                    self._line(f"  ... {name} {version} [{tag}] {phase}: {time.monotonic() - since:.0f}s so far")

    def close(self) -> None:
        self.stop.set()


def add_build_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that builds shares: where packages come from, the limits, the sandbox."""
    add = parser.add_argument
    add("--index-url", default=PYPI_SIMPLE, help="PEP 503/691 simple index (https:// or file://)")
    add("--find-links", action="append", default=[], metavar="DIR|URL", help="extra place for build requirements")
    add("--timeout", type=float, default=1800.0, metavar="SECONDS", help="per build (default 1800)")
    add("--memory", type=float, default=8.0, metavar="GIB", help="address-space cap per build process (default 8)")
    add("--unsandboxed", action="store_true", help="build without bubblewrap (results are marked so)")


def _check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nox -s check --", description="Build each wheel twice per Python and compare.")
    parser.add_argument("targets", nargs="+", metavar="PKG[==VER] | SDIST", help="a project on the index, or a local sdist")
    parser.add_argument("--python", action="append", metavar="X.Y", help="interpreter(s) to use (default: every supported one found)")
    parser.add_argument("--json", metavar="FILE", help="write the results as a JSON list")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="checks run at once")
    parser.add_argument("--out", default="out", help="where results, wheels, logs and caches go (default out/)")
    parser.add_argument("--vary", action="store_true", help="strict check: rebuild a reproducible wheel under variations (docs/vary.md)")
    parser.add_argument("--no-upstream", action="store_true", help="do not compare with the wheel the index publishes")
    add_build_options(parser)
    return parser


def exit_code(results: Sequence[Result]) -> int:
    """0: all reproducible; 1: something is unreproducible; 2: something could not be checked."""
    statuses = {r.status for r in results}
    if "unreproducible" in statuses:
        return 1
    if statuses - {"reproducible"} or not results:
        return 2
    return 0


def main_check(argv: Sequence[str]) -> int:
    args = _check_parser().parse_args(argv)
    discovery = discover(parse_wanted(args.python))
    if discovery.missing:
        print(discovery.missing_message(), file=sys.stderr)
    if not discovery.found:
        raise PipelineError("no supported Python interpreter found; nothing to check")
    options = CheckOptions(out=Path(args.out), index_url=args.index_url, find_links=tuple(args.find_links),
                           timeout=args.timeout, memory=int(args.memory * GiB), unsandboxed=args.unsandboxed,
                           vary=args.vary, upstream=not args.no_upstream)
    progress = LiveProgress()
    checker = Checker(options, progress=progress)
    results: list[Result] = []
    failures: list[str] = []
    try:
        jobs = []
        for argument in args.targets:
            try:
                target = checker.target(argument)
            except PipelineError as exc:
                failures.append(f"{argument}: {exc}")
                print(f"error: {argument}: {exc}", file=sys.stderr)
                continue
            jobs += [(target, interpreter) for interpreter in discovery.found]

        def run(job) -> Result:
            target, interpreter = job
            result = checker.check(target, interpreter)
            progress(Progress(target.name, target.version, interpreter.tag, "done"))
            return result

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(run, jobs))
    finally:
        progress.close()
    if args.json:
        Path(args.json).write_text(json.dumps([r.to_json() for r in results], indent=2) + "\n")
    print(report.table(results))
    for block in report.details(results):
        print(block)
    if failures:
        print("\nnot checked:\n  " + "\n  ".join(failures))
        return 2
    return exit_code(results)


def main_lock(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="nox -s lock --", description="Write environments/cpXY.txt toolchain locks.")
    parser.add_argument("--python", action="append", metavar="X.Y")
    parser.add_argument("--index-url", default=PYPI_SIMPLE)
    args = parser.parse_args(argv)
    discovery = discover(parse_wanted(args.python))
    if discovery.missing:
        print(discovery.missing_message(), file=sys.stderr)
    for interpreter in discovery.found:
        path = environments.write_toolchain_lock(interpreter, environments.PipSource(args.index_url))
        print(f"{interpreter.tag}: wrote {path}")
    return 0 if discovery.found else 2


def main_wheelhouse(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline wheelhouse", description="Download the pinned toolchains' wheels for offline builds.")
    parser.add_argument("dest")
    parser.add_argument("--extra", help="a requirements file to add (e.g. environments/fixtures.txt)")
    parser.add_argument("--index-url", default=PYPI_SIMPLE)
    args = parser.parse_args(argv)
    minors = parse_wanted(None)
    environments.fill_wheelhouse(Path(args.dest), environments.PipSource(args.index_url), minors,
                                 Path(args.extra) if args.extra else None)
    print(f"wheelhouse {args.dest}: toolchains for Python {', '.join(minors)}")
    return 0


def main_bench(argv: Sequence[str]) -> int:
    from tests import bench

    parser = argparse.ArgumentParser(prog="nox -s bench --", description="Measure; print figures and ratios.")
    parser.add_argument("areas", nargs="*", help=f"some of: {', '.join(bench.BENCHMARKS)} (default: all)")
    parser.add_argument("--workdir", default="out/bench")
    args = parser.parse_args(argv)
    unknown = set(args.areas) - set(bench.BENCHMARKS)
    if unknown:
        raise PipelineError(f"unknown bench area(s): {', '.join(sorted(unknown))}")
    missed = 0
    for figure in bench.run(args.areas, Path(args.workdir).resolve()):
        print(figure.line(), flush=True)
        missed += figure.ok is False
    return 1 if missed else 0


def main_diff(argv: Sequence[str]) -> int:
    from ..explain import main_diff as diff

    return diff(list(argv))


def main_render(argv: Sequence[str]) -> int:
    from .render import main_render as render

    return render(list(argv))
