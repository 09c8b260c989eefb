"""What a check builds: a release resolved on an index, or a local sdist, fetched and verified."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename

from ..errors import PipelineError, UsageError
from ..records import Artifact, Release
from .fetch import add_local, fetch_artifact
from .net import Client
from .resolve import resolve_release


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


def release_target(release: Release, client: Client, store: Path) -> Target:
    """A resolved release's sdist, fetched and verified (a file that fails is the target's problem)."""
    argument = f"{release.name}=={release.version}"
    if release.sdist is None:
        return Target(release.name, release.version, None, None, argument, release)
    try:
        path = fetch_artifact(client, release.sdist, store)
    except PipelineError as exc:  # known release, unusable file: an `error` result, never a verdict
        return Target(release.name, release.version, release.sdist, None, argument, release, problem=str(exc))
    return Target(release.name, release.version, release.sdist, path, argument, release)


def local_target(path: Path, argument: str, store: Path) -> Target:
    try:
        name, version = parse_sdist_filename(path.name)
    except InvalidSdistFilename:
        raise UsageError(f"{path.name} is not named like an sdist (NAME-VERSION.tar.gz)") from None
    stored, digest = add_local(path, store)
    artifact = Artifact(filename=path.name, url=path.resolve().as_uri(), sha256=digest, size=stored.stat().st_size)
    return Target(canonicalize_name(name), str(version), artifact, stored, argument)
