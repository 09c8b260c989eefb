"""A fake double-build engine for the nightly's tests: an in-memory index and scripted verdicts.

It behaves like the real one at the seams the nightly uses (resolve raises ProjectNotFound or
NetworkError, check returns a Result) and counts every call, so tests can assert what ran.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from packaging.version import Version

from pipeline.engine.resolve import choose
from pipeline.errors import NetworkError, ProjectNotFound, VersionNotFound
from pipeline.nightly.plan import Slot
from pipeline.nightly.run import Engine
from pipeline.records import Artifact, Build, Environment, Release, Result

SLOTS = {
    "3.9": Slot("cp39", "3.9.18", "base-39"),
    "3.11": Slot("cp311", "3.11.9", "base-311"),
    "3.12": Slot("cp312", "3.12.4", "base-312"),
    "3.13": Slot("cp313", "3.13.0", "base-313"),
}


@dataclass
class FakeEngine:
    """``index`` maps name -> versions (latest last); ``verdicts`` (name, version) -> status;
    ``requires`` (name, version) -> the Requires-Python the index gives for that release.
    Resolution per interpreter goes through the real :func:`pipeline.engine.resolve.choose`."""

    index: dict[str, list[str]]
    pythons: Sequence[str] = ("3.12",)
    verdicts: dict[tuple[str, str], str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    resolve_failures: dict[str, int] = field(default_factory=dict)
    check_failures: dict[str, int] = field(default_factory=dict)
    sleep: bool = False
    finished: str | None = None
    bases: dict[str, str] = field(default_factory=dict)
    requires: dict[tuple[str, str], str] = field(default_factory=dict)
    resolve_calls: list[str] = field(default_factory=list)
    check_calls: list[tuple[str, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def find_slots(self, wanted: Sequence[str]) -> list[Slot]:
        chosen = [p for p in self.pythons if not wanted or p in wanted]
        return [self._slot(p) for p in chosen]

    def _slot(self, python: str) -> Slot:
        slot = SLOTS[python]
        base = self.bases.get(slot.interpreter)
        return Slot(slot.interpreter, slot.python, base, slot.handle) if base else slot

    def release(self, name: str, version: str, index_url: str = "") -> Release:
        sdist = Artifact(f"{name}-{version}.tar.gz", f"{index_url}{name}/{name}-{version}.tar.gz", "0" * 64)
        return Release(name, version, sdist, index_url=index_url, requires_python=self.requires.get((name, version), ""))

    def resolve(self, name: str, version: str | None, index_url: str, pythons: Sequence[str] = ("3.12.4",)
                ) -> Mapping[str, Release]:
        with self._lock:
            self.resolve_calls.append(name)
            if self.resolve_failures.get(name, 0) > 0:
                self.resolve_failures[name] -= 1
                raise NetworkError(index_url + name, "503 Service Unavailable")
        versions = self.index.get(name)
        if versions is None:
            raise ProjectNotFound(name, index_url)
        if version is not None and version not in versions:
            raise VersionNotFound(name, version, tuple(versions))
        releases = {Version(v): self.release(name, v, index_url) for v in versions}
        return {python: choose(releases, name, version, python) for python in pythons}

    def check(self, release: Release, slot: Slot) -> Result:
        key = (release.name, release.version, slot.interpreter)
        with self._lock:
            self.check_calls.append(key)
            failing = self.check_failures.get(release.name, 0)
            if failing > 0:
                self.check_failures[release.name] -= 1
        if failing > 0:
            raise NetworkError(release.index_url, "connection reset while fetching the sdist")
        seconds = self.seconds.get(release.name, 0.01)
        if self.sleep:
            time.sleep(seconds)
        status = self.verdicts.get((release.name, release.version), "reproducible")
        wheel_hash = f"{release.name}-{release.version}".encode().hex()[:64]
        builds = tuple(
            Build(f"{release.name}-{release.version}-py3-none-any.whl", wheel_hash, seconds / 2, None, None, 0, "/b")
            for _ in range(2)
        )
        env = Environment("fp-" + slot.base, slot.base, slot.python, slot.interpreter, ("pip==25",), (), "/env")
        stamp = self.finished or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return Result(
            name=release.name,
            version=release.version,
            python=slot.python,
            interpreter=slot.interpreter,
            status=status,  # type: ignore[arg-type]
            started=stamp,
            finished=stamp,
            reproduce=f"nox -s check -- {release.name}=={release.version}",
            sdist=release.sdist,
            environment=env,
            builds=builds,
        )

    def engine(self) -> Engine:
        return Engine(find_slots=self.find_slots, resolve=self.resolve, check=self.check)
