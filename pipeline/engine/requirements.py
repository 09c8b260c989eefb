"""Build requirements that publish only an sdist: built like any release (offline, sandboxed), locked by digest.

Resolution with the network never runs package code (see provision), so such a requirement cannot
give its metadata there.  Instead its newest fitting sdist is fetched (verified by sha256), built
once in the sandbox with its own pinned environment, and the wheel is kept under
``out/cache/built/<sha256>/``; resolution then goes on with that wheel (its dependencies come from
the index) and the lock names it by the digest of the wheel built, like any other input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from ..errors import BuildRequirementsFailed, EnvironmentFailed
from .interpreters import Interpreter
from .prepare import preparing
from .provision import copy_wheel
from .resolve import fetch_files, releases_from_files

if TYPE_CHECKING:
    from .check import Checker

MAX_DEPTH = 4


def specifier_for(name: str, requirements: list[str]) -> SpecifierSet:
    """Every version range the given requirements put on ``name`` (none: any version)."""
    wanted = SpecifierSet()
    for text in requirements:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == canonicalize_name(name):
            wanted &= requirement.specifier
    return wanted


def build_requirement(checker: Checker, name: str, requirements: list[str], interpreter: Interpreter,
                      uid: int) -> Path:
    """The folder holding the wheel built from ``name``'s newest fitting sdist on the index."""
    stack = preparing()
    if canonicalize_name(name) in {canonicalize_name(n) for n in stack} or len(stack) > MAX_DEPTH:
        raise BuildRequirementsFailed(f"build requirement {name}", "needs itself, or a chain of requirements "
                                      f"with only sdists too long to build ({' -> '.join([*stack, name])})")
    wanted = specifier_for(name, requirements)
    files, page = fetch_files(checker.client, checker.options.index_url, name)
    releases = releases_from_files(name, files, page)
    fitting = [version for version, release in releases.items()
               if release.sdist is not None and not release.sdist.yanked and not version.is_prerelease
               and wanted.contains(version)]
    if not fitting:
        raise BuildRequirementsFailed(f"build requirement {name}{wanted}", "has neither a wheel nor an sdist to build "
                                      "on the index")
    target = checker.release_target(releases[max(fitting)])
    if target.problem or target.sdist_path is None:
        raise EnvironmentFailed(f"build requirement {name}", target.problem or "its sdist could not be fetched")
    with checker.prepare(target, interpreter, uid) as prepared:
        build, reason = checker.rebuild(prepared, "requirement")
    if reason or not build.path or not build.sha256:
        raise BuildRequirementsFailed(f"build requirement {name} {target.version}",
                                      f"its wheel could not be built from its sdist: {reason or 'no wheel'}")
    return copy_wheel(Path(build.path), checker.workspace.built, build.sha256)
