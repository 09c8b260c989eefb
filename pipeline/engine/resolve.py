"""Resolve name[==version] to a release's sdist and wheels on a PEP 691 / PEP 503 index."""

from __future__ import annotations

import html.parser
import json
import urllib.parse
from typing import Any, Iterable

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ..errors import NetworkError, ProjectNotFound, UsageError, VersionNotFound
from .net import Client
from ..records import Artifact, Release

PYPI_SIMPLE = "https://pypi.org/simple/"
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


def parse_requirement(text: str) -> tuple[str, str | None]:
    """``name`` or ``name==version`` -> (canonical name, version or None)."""
    name, sep, version = text.strip().partition("==")
    name = name.strip()
    if not name or any(c in name for c in "<>=!~;[ @/"):
        raise UsageError(f"cannot read {text!r}: give NAME or NAME==VERSION, or a path to an sdist")
    if sep and not version.strip():
        raise UsageError(f"cannot read {text!r}: no version after ==")
    return canonicalize_name(name), (version.strip() or None)


class _LinkParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def _hash_from_fragment(url: str) -> tuple[str, str | None]:
    base, _, fragment = url.partition("#")
    algo, _, value = fragment.partition("=")
    return base, (value.lower() if algo == "sha256" and value else None)


def parse_html(body: str, page_url: str) -> list[dict[str, Any]]:
    """PEP 503 links -> file dicts shaped like PEP 691's."""
    parser = _LinkParser()
    parser.feed(body)
    files = []
    for link in parser.links:
        href = link.get("href")
        if not href:
            continue
        url, sha256 = _hash_from_fragment(urllib.parse.urljoin(page_url, href))
        filename = urllib.parse.unquote(url.rstrip("/").rsplit("/", 1)[-1])
        yanked = link.get("data-yanked")
        files.append({"filename": filename, "url": url, "hashes": {"sha256": sha256} if sha256 else {},
                      "yanked": yanked is not None and yanked is not False})
    return files


def _artifact(entry: dict[str, Any], page_url: str) -> Artifact:
    url, fragment_hash = _hash_from_fragment(urllib.parse.urljoin(page_url, entry["url"]))
    sha256 = (entry.get("hashes") or {}).get("sha256") or fragment_hash
    return Artifact(
        filename=entry["filename"],
        url=url,
        sha256=sha256.lower() if sha256 else None,
        size=entry.get("size"),
        upload_time=entry.get("upload-time"),
        yanked=bool(entry.get("yanked")),
    )


def _version_of(filename: str) -> tuple[Version, str] | None:
    """(version, 'sdist'|'wheel') for a distribution filename, None for anything else."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1], "wheel"
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[1], "sdist"
    except (InvalidSdistFilename, InvalidWheelFilename, InvalidVersion):
        return None
    return None


def releases_from_files(name: str, files: Iterable[Artifact], index_url: str) -> dict[Version, Release]:
    by_version: dict[Version, tuple[list[Artifact], list[Artifact]]] = {}
    for artifact in files:
        parsed = _version_of(artifact.filename)
        if parsed is None:
            continue
        version, kind = parsed
        sdists, wheels = by_version.setdefault(version, ([], []))
        (sdists if kind == "sdist" else wheels).append(artifact)
    releases = {}
    for version, (sdists, wheels) in by_version.items():
        # .tar.gz is the standard sdist format (PEP 625); a .zip only when nothing else is there
        sdists.sort(key=lambda a: (a.yanked, not a.filename.endswith(".tar.gz"), a.filename))
        releases[version] = Release(name, str(version), sdists[0] if sdists else None, tuple(wheels), index_url)
    return releases


def choose(releases: dict[Version, Release], name: str, version: str | None) -> Release:
    """The pinned version, or the newest non-yanked, non-pre-release one with an sdist."""
    if version is not None:
        try:
            wanted = Version(version)
        except InvalidVersion:
            raise UsageError(f"{version!r} is not a valid version") from None
        if wanted not in releases:
            raise VersionNotFound(name, version, tuple(str(v) for v in sorted(releases)))
        return releases[wanted]
    ordered = sorted(releases, reverse=True)
    finals = [v for v in ordered if not v.is_prerelease] or ordered
    for candidate in finals:
        release = releases[candidate]
        if release.sdist and not release.sdist.yanked:
            return release
    for candidate in finals:  # nothing has an sdist: the newest release, which gets no-sdist
        release = releases[candidate]
        if not all(w.yanked for w in release.wheels):
            return Release(name, release.version, None, release.wheels, release.index_url)
    raise VersionNotFound(name, "(any)", ())


def fetch_files(client: Client, index_url: str, name: str) -> tuple[list[Artifact], str]:
    """The files the index lists for a project (JSON first, HTML as fallback)."""
    page_url = urllib.parse.urljoin(index_url if index_url.endswith("/") else index_url + "/", f"{name}/")
    response = client.get(page_url, accept=ACCEPT)
    if response.status == 404:
        raise ProjectNotFound(name, index_url)
    if response.status != 200:
        raise NetworkError(page_url, f"HTTP {response.status}")
    text = response.body.decode("utf-8", "replace")
    if "json" in response.content_type:
        try:
            entries = json.loads(text)["files"]
        except (ValueError, KeyError, TypeError):
            raise NetworkError(page_url, "the index answered with JSON that is not a PEP 691 project page") from None
    else:
        entries = parse_html(text, response.url)
    return [_artifact(entry, response.url) for entry in entries], response.url


def resolve_release(client: Client, index_url: str, requirement: str) -> Release:
    name, version = parse_requirement(requirement)
    files, _ = fetch_files(client, index_url, name)
    releases = releases_from_files(name, files, index_url)
    if not releases:
        raise ProjectNotFound(name, index_url)
    return choose(releases, name, version)
