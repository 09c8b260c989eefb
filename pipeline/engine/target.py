"""What a check builds: a release resolved on an index, or a local sdist, fetched and verified."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename

from ..errors import PipelineError, UsageError
from ..records import Artifact, Release
from .fetch import add_local, fetch_artifact
from .net import Client
from .requires import read_requires_python
from .resolve import Fill, resolve_per_python, resolve_release


@dataclass(frozen=True)
class Target:
    """What is checked: a release resolved from an index, or a local sdist."""

    name: str
    version: str
    sdist: Artifact | None
    sdist_path: Path | None
    argument: str  # how the user named it, for the reproduce command
    release: Release | None = None
    problem: str = ""  # why the sdist cannot be used (digest mismatch, download failed)
    #: the release's Requires-Python (index, else PKG-INFO); None when it declares none or is unknown
    requires_python: str | None = None

    @property
    def from_index(self) -> bool:
        return self.release is not None


def is_local(argument: str) -> bool:
    return argument.endswith((".tar.gz", ".zip")) or "/" in argument


def find_target(argument: str, client: Client, index_url: str, store: Path) -> Target:
    """``name[==version]`` resolved on the index, or a local sdist; fetched into ``store`` and verified."""
    if is_local(argument):
        return local_target(Path(argument), argument, store)
    return release_target(resolve_release(client, index_url, argument), client, store)


def find_targets(argument: str, client: Client, index_url: str, store: Path,
                 pythons: Sequence[str]) -> dict[str, Target]:
    """The target for each interpreter (X.Y.Z): a local sdist is the same everywhere; ``name`` resolves
    to the newest release each interpreter admits, ``name==version`` to that release.  Each distinct
    release is fetched once."""
    if is_local(argument):
        target = local_target(Path(argument), argument, store)
        return {python: target for python in pythons}
    chosen = resolve_per_python(client, index_url, argument, pythons, pkg_info_fill(client, store))
    targets: dict[str, Target] = {}
    for release in chosen.values():
        if release.version not in targets:
            targets[release.version] = release_target(release, client, store)
    return {python: targets[release.version] for python, release in chosen.items()}


def pkg_info_fill(client: Client, store: Path) -> Fill:
    """Requires-Python from the sdist's PKG-INFO, for a release whose index entry does not give it."""

    def fill(release: Release) -> Release:
        if release.requires_python is not None or release.sdist is None:
            return release
        try:
            path = fetch_artifact(client, release.sdist, store)
        except PipelineError:  # the check will meet the same failure and record it as an error
            return release
        found = read_requires_python(path)
        return release if found is None else dataclasses.replace(release, requires_python=found)

    return fill


def release_target(release: Release, client: Client, store: Path) -> Target:
    """A resolved release's sdist, fetched and verified (a file that fails is the target's problem)."""
    argument = f"{release.name}=={release.version}"
    spec = release.requires_python or None
    if release.sdist is None:
        return Target(release.name, release.version, None, None, argument, release, requires_python=spec)
    try:
        path = fetch_artifact(client, release.sdist, store)
    except PipelineError as exc:  # known release, unusable file: an `error` result, never a verdict
        return Target(release.name, release.version, release.sdist, None, argument, release, problem=str(exc),
                      requires_python=spec)
    if release.requires_python is None:  # the index did not say: the sdist's PKG-INFO does
        spec = read_requires_python(path) or None
    return Target(release.name, release.version, release.sdist, path, argument, release, requires_python=spec)


def local_target(path: Path, argument: str, store: Path) -> Target:
    try:
        name, version = parse_sdist_filename(path.name)
    except InvalidSdistFilename:
        raise UsageError(f"{path.name} is not named like an sdist (NAME-VERSION.tar.gz)") from None
    stored, digest = add_local(path, store)
    artifact = Artifact(filename=path.name, url=path.resolve().as_uri(), sha256=digest, size=stored.stat().st_size)
    return Target(canonicalize_name(name), str(version), artifact, stored, argument,
                  requires_python=read_requires_python(stored) or None)
