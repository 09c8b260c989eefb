"""The upstream command's unit of work: is the index's wheel of one release what its sdist builds to?

One controlled build (or the wheel an earlier check kept), compared with the index's wheel, then
rebuilt with the toolchain that made that wheel (:mod:`pipeline.upstream.matching`).  A local
sdist is compared with the index's wheel of the same name and version.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..engine import sandbox
from ..engine.fetch import sha256_of
from ..engine.interpreters import Interpreter
from ..engine.resolve import resolve_release
from ..engine.target import Target
from ..errors import BuildRequirementsFailed, PipelineError
from ..records import Build, Upstream

if TYPE_CHECKING:
    from ..engine.check import Checker


@dataclass(frozen=True)
class Verification:
    """One release on one interpreter: the rebuild compared and how it compares (or why it could not)."""

    name: str
    version: str
    interpreter: Interpreter
    wheel: Path | None = None
    origin: str = ""  # where the controlled wheel came from
    upstream: Upstream | None = None
    problem: str = ""  # why nothing could be compared (then upstream is None)

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "python": self.interpreter.version,
                "interpreter": self.interpreter.tag, "rebuild": str(self.wheel) if self.wheel else None,
                "origin": self.origin, "problem": self.problem,
                "upstream": self.upstream.to_json() if self.upstream else None}


def upstream_target(checker: Checker, argument: str) -> Target:
    """``name[==version]`` on the index, or a local sdist paired with the index's release of its version."""
    target = checker.target(argument)
    if target.release is None:
        release = resolve_release(checker.client, checker.options.index_url, f"{target.name}=={target.version}")
        target = dataclasses.replace(target, release=release)
    return target


def latest_kept_wheel(folder: Path) -> Path | None:
    """The newest wheel a controlled build kept in ``folder`` (out/builds/NAME/VERSION/TAG/1/)."""
    wheels = [p for p in folder.glob("*.whl") if p.is_file() and not p.is_symlink()] if folder.is_dir() else []
    return max(wheels, key=lambda p: (p.stat().st_mtime, p.name)) if wheels else None


def _kept(checker: Checker, target: Target, interpreter: Interpreter) -> Build | None:
    if target.sdist is None or target.sdist != (target.release.sdist if target.release else None):
        return None  # a local sdist may not be the index's: its kept wheels prove nothing here
    found = latest_kept_wheel(checker.workspace.result_dir(target.name, target.version, interpreter.tag) / "1")
    if found is None:
        return None
    return Build(wheel=found.name, sha256=sha256_of(found), seconds=0.0, path=str(found), log=None, returncode=0,
                 build_dir="")


def verify(checker: Checker, target: Target, interpreter: Interpreter, rebuild: bool = False) -> Verification:
    """Compare the index's wheel with the controlled rebuild, then with one in the index's toolchain."""
    done = Verification(target.name, target.version, interpreter)
    if target.problem or target.sdist_path is None:
        return dataclasses.replace(done, problem=target.problem or "the release publishes no sdist to rebuild")
    build = None if rebuild else _kept(checker, target, interpreter)
    origin = "kept from an earlier build" if build else "built now: one controlled build"
    try:
        with sandbox.lease_uid() as uid, checker.prepare(target, interpreter, uid) as prepared:
            if build is None:
                build, reason = checker.rebuild(prepared, 1)
                if reason or not build.path:
                    return dataclasses.replace(done, problem=f"the rebuild failed: {reason or 'no wheel'}; "
                                                             f"log: {build.log}")
            upstream = checker.upstream(target, interpreter, build, prepared)
    except BuildRequirementsFailed as error:
        return dataclasses.replace(done, problem=f"cannot rebuild: {error}")
    except PipelineError as error:
        return dataclasses.replace(done, problem=str(error))
    return dataclasses.replace(done, wheel=Path(build.path), origin=origin, upstream=upstream)
