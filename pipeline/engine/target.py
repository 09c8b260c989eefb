"""What a check builds: a release resolved on an index, or a local sdist, fetched and verified."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tarfile
import urllib.parse
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename

from ..errors import PipelineError, UsageError
from ..records import Artifact, Release
from .fetch import add_local, fetch_artifact, sha256_of
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
    #: digests the sdist must match one of ("sha256:HEX"; a requirements file's --hash values); () = any
    hashes: tuple[str, ...] = ()
    #: the release's Requires-Python (index, else PKG-INFO); None when it declares none or is unknown
    requires_python: str | None = None

    @property
    def from_index(self) -> bool:
        return self.release is not None


def is_url(argument: str) -> bool:
    return urllib.parse.urlparse(argument).scheme in ("http", "https", "file")


def is_local(argument: str) -> bool:
    return argument.endswith((".tar.gz", ".zip")) or "/" in argument


def find_target(argument: str, client: Client, index_url: str, store: Path, hashes: tuple[str, ...] = ()) -> Target:
    """``name[==version]`` resolved on the index, an sdist's URL, or a local sdist; fetched into ``store``
    and verified (against ``hashes`` too, when given)."""
    if is_url(argument):
        return url_target(argument, client, store)
    if is_local(argument):
        return local_target(Path(argument), argument, store)
    return release_target(resolve_release(client, index_url, argument), client, store, hashes)


def find_targets(argument: str, client: Client, index_url: str, store: Path, pythons: Sequence[str],
                 hashes: tuple[str, ...] = ()) -> dict[str, Target]:
    """The target for each interpreter (X.Y.Z): a local sdist or an sdist's URL is the same everywhere;
    ``name`` resolves to the newest release each interpreter admits, ``name==version`` to that release.
    Each distinct release is fetched once."""
    if is_url(argument) or is_local(argument):
        target = find_target(argument, client, index_url, store, hashes)
        return {python: target for python in pythons}
    chosen = resolve_per_python(client, index_url, argument, pythons, pkg_info_fill(client, store))
    targets: dict[str, Target] = {}
    for release in chosen.values():
        if release.version not in targets:
            targets[release.version] = release_target(release, client, store, hashes)
    return {python: targets[release.version] for python, release in chosen.items()}


def pkg_info_fill(client: Client, store: Path) -> Fill:
    """Requires-Python from the sdist's PKG-INFO, for a release whose index entry does not give it."""

    def fill(release: Release) -> Release:
        if release.requires_python is not None or release.sdist is None or release.sdist.refused:
            return release
        try:
            path = fetch_artifact(client, release.sdist, store)
        except PipelineError:  # the check will meet the same failure and record it as an error
            return release
        found = read_requires_python(path)
        return release if found is None else dataclasses.replace(release, requires_python=found)

    return fill


def release_target(release: Release, client: Client, store: Path, hashes: tuple[str, ...] = ()) -> Target:
    """A resolved release's sdist, fetched and verified (a file that fails is the target's problem)."""
    argument = f"{release.name}=={release.version}"
    spec = release.requires_python or None
    if release.sdist is None:
        return Target(release.name, release.version, None, None, argument, release, hashes=hashes,
                      requires_python=spec)
    try:
        path = fetch_artifact(client, release.sdist, store)
    except PipelineError as exc:  # known release, unusable file: an `error` result, never a verdict
        return Target(release.name, release.version, release.sdist, None, argument, release, problem=str(exc),
                      hashes=hashes, requires_python=spec)
    problem = "" if not hashes or allowed(path, hashes) else (
        f"{release.sdist.filename} (sha256 {release.sdist.sha256 or '?'}) matches none of the "
        f"{len(hashes)} --hash values given for it; refused")
    if release.requires_python is None:  # the index did not say: the sdist's PKG-INFO does
        spec = read_requires_python(path) or None
    return Target(release.name, release.version, release.sdist, None if problem else path, argument, release,
                  problem=problem, hashes=hashes, requires_python=spec)


def allowed(path: Path, hashes: tuple[str, ...]) -> bool:
    """Whether the file's digest is one of ``hashes`` ("ALGO:HEX")."""
    for algorithm in sorted({value.partition(":")[0] for value in hashes}):
        digest = hashlib.new(algorithm)
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        if f"{algorithm}:{digest.hexdigest()}" in hashes:
            return True
    return False


def _name_and_version(filename: str) -> tuple[str, str]:
    try:
        name, version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        raise UsageError(f"{filename!r} is not named like an sdist (NAME-VERSION.tar.gz)") from None
    if not _PROJECT_NAME.match(name):
        raise UsageError(f"{filename!r} is not named like an sdist: {name!r} is not a valid project name")
    return canonicalize_name(name), str(version)


def _check_archive(path: Path, shown: str) -> None:
    """An sdist that is not the archive its name says is refused before anything unpacks it."""
    try:
        ok = zipfile.is_zipfile(path) if path.name.endswith(".zip") else tarfile.is_tarfile(path)
    except OSError as error:
        raise UsageError(f"cannot read {shown}: {error.strerror or error}") from None
    if not ok:
        kind = "zip" if path.name.endswith(".zip") else "tar"
        raise UsageError(f"{shown} is not a {kind} archive, so not an sdist")


def url_target(url: str, client: Client, store: Path) -> Target:
    """An sdist at a URL (``#sha256=HEX`` verifies it), fetched into the store."""
    base, _, fragment = url.partition("#")
    filename = urllib.parse.unquote(urllib.parse.urlparse(base).path.rstrip("/").rsplit("/", 1)[-1])
    name, version = _name_and_version(filename)
    algorithm, _, expected = fragment.partition("=")
    artifact = Artifact(filename=filename, url=base, sha256=expected.lower() if algorithm == "sha256" else None)
    path = fetch_artifact(client, artifact, store)
    _check_archive(path, url)
    return Target(name, version, Artifact(filename, base, sha256_of(path), path.stat().st_size), path, url,
                  requires_python=read_requires_python(path) or None)


def local_target(path: Path, argument: str, store: Path) -> Target:
    if not path.is_file():
        raise UsageError(f"no such file: {argument}")
    name, version = _name_and_version(path.name)
    _check_archive(path, argument)
    stored, digest = add_local(path, store)
    artifact = Artifact(filename=path.name, url=path.resolve().as_uri(), sha256=digest, size=stored.stat().st_size)
    return Target(name, version, artifact, stored, argument, requires_python=read_requires_python(stored) or None)


_PROJECT_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
