"""Resolve name[==version] to a release's sdist and wheels on a PEP 691 / PEP 503 index.

The index is input like any sdist.  Each entry of a page is checked on its own: one with a URL the
index may not point at (file: from an http index, javascript:, data:...), an unusable file name, or
a missing or malformed digest becomes an Artifact with ``refused`` set, never fetched; the rest
still resolve.
"""

from __future__ import annotations

import html.parser
import dataclasses
import json
import urllib.parse
from typing import Any, Callable, Iterable, Mapping, Sequence

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from ..errors import IndexRefused, NetworkError, ProjectNotFound, UsageError, VersionNotFound
from .fetch import filename_problem, is_sha256
from .net import Client
from .requires import admits, clean
from ..records import Artifact, Release

ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
#: the most files one project page may list (PyPI's busiest list about 10,000); a page of more
#: is refused before it is held in memory as objects
MAX_FILES = 100_000
NO_DIGEST = "the index publishes no sha256 for it, so its bytes cannot be verified"


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
    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            if len(self.links) >= MAX_FILES:
                raise IndexRefused(self.page_url, f"the page lists more than {MAX_FILES:,} files")
            self.links.append(dict(attrs))


def _hash_from_fragment(url: str) -> tuple[str, str | None]:
    base, _, fragment = url.partition("#")
    algo, _, value = fragment.partition("=")
    return base, (value.lower() if algo == "sha256" and value else None)


def parse_html(body: str, page_url: str) -> list[dict[str, Any]]:
    """PEP 503 links -> file dicts shaped like PEP 691's (URLs as written: _artifact checks them)."""
    parser = _LinkParser(page_url)
    parser.feed(body)
    files = []
    for link in parser.links:
        href = link.get("href")
        if not href:
            continue
        url, sha256 = _hash_from_fragment(href)
        yanked = link.get("data-yanked")
        files.append({"filename": _last_segment(url), "url": url, "hashes": {"sha256": sha256} if sha256 else {},
                      "yanked": yanked is not None and yanked is not False,
                      "requires-python": link.get("data-requires-python")})
    return files


def _last_segment(url: str) -> str | None:
    try:
        path = urllib.parse.urlsplit(url).path
    except ValueError:
        return None  # _artifact says why
    return urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1])


def url_problem(url: str, page_url: str) -> str | None:
    """Why an index page may not point at ``url`` (absolute), or None when it may.

    http(s) pages may point only at http(s) files: urljoin keeps an absolute file: URL, and an
    https index must never make us read a host file.  A file: index (a local mirror) may also
    point at local files.
    """
    parts = urllib.parse.urlsplit(url)
    scheme, page_scheme = parts.scheme.lower(), urllib.parse.urlsplit(page_url).scheme.lower()
    allowed = ("http", "https", "file") if page_scheme == "file" else ("http", "https")
    if scheme == "file" and scheme not in allowed:
        return f"its URL {url[:100]!r} is a file: URL on an {page_scheme} index; only a file: index may point at local files"
    if scheme not in allowed:
        return f"its URL {url[:100]!r} has the scheme {scheme or '(none)'}:, and only {', '.join(allowed)} are fetched"
    if scheme != "file" and not parts.hostname:
        return f"its URL {url[:100]!r} names no host"
    if scheme == "file" and parts.netloc not in ("", "localhost"):
        return f"its URL {url[:100]!r} is a file: URL naming another host"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url + urllib.parse.unquote(parts.path)):
        return f"its URL {url[:100]!r} has control characters (a NUL byte?)"
    return None


def _artifact(entry: Any, page_url: str) -> Artifact:
    """One entry of a page as an Artifact; an entry that cannot be used has ``refused`` set."""
    if not isinstance(entry, dict):
        return _refused(None, "the entry is not an object")
    filename = entry.get("filename")
    problem = filename_problem(filename)
    if problem:
        return _refused(filename, problem)
    href = entry.get("url")
    if not isinstance(href, str) or not href:
        return _refused(filename, "the entry has no URL")
    try:
        url, fragment_hash = _hash_from_fragment(urllib.parse.urljoin(page_url, href))
        problem = url_problem(url, page_url)
    except ValueError as error:  # e.g. an unclosed [ in the host
        problem = f"its URL {href[:100]!r} cannot be read ({error})"
    if problem:
        return _refused(filename, problem)
    hashes = entry.get("hashes") or {}
    sha256 = (hashes.get("sha256") if isinstance(hashes, dict) else None) or fragment_hash
    if not sha256:  # what the index serves must match what it published, or it is not used
        return _refused(filename, NO_DIGEST)
    if not (isinstance(sha256, str) and is_sha256(sha256)):
        return _refused(filename, f"its sha256 {str(sha256)[:80]!r} is not 64 hex digits")
    size, upload_time = entry.get("size"), entry.get("upload-time")
    return Artifact(
        filename=filename,
        url=url,
        sha256=sha256.lower(),
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        upload_time=upload_time if isinstance(upload_time, str) else None,
        yanked=bool(entry.get("yanked")),
    )


def _refused(filename: object, reason: str) -> Artifact:
    # an unusable name is kept only as its ascii() form in <>, so it never parses as a distribution
    name = filename if filename_problem(filename) is None else f"<{ascii(filename)[:120]}>"
    return Artifact(filename=name, url="", sha256=None, refused=reason)  # type: ignore[arg-type]


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


def _with_requires_python(artifact: Artifact, entry: Mapping[str, Any]) -> Artifact:
    """The file's Requires-Python from its index entry (PEP 691 ``requires-python``, PEP 503's attribute)."""
    spec = clean(entry.get("requires-python"))
    return dataclasses.replace(artifact, requires_python=spec) if spec else artifact


def _declared(sdist: Artifact | None, wheels: Sequence[Artifact]) -> str | None:
    """A release's Requires-Python as the index gives it: its sdist's, else its wheels' (None: not given)."""
    for artifact in (sdist, *wheels):
        if artifact is not None and artifact.requires_python:
            return artifact.requires_python
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
        sdists.sort(key=lambda a: (a.refused is not None, a.yanked, not a.filename.endswith(".tar.gz"), a.filename))
        sdist = sdists[0] if sdists else None
        releases[version] = Release(name, str(version), sdist, tuple(wheels), index_url, _declared(sdist, wheels))
    return releases


#: fills in a release's Requires-Python when the index did not give it (reads the sdist's PKG-INFO)
Fill = Callable[[Release], Release]


def choose(releases: dict[Version, Release], name: str, version: str | None, python: str | None = None,
           fill: Fill | None = None) -> Release:
    """The release pip would pick: the pinned version, or the newest final, non-yanked one with an sdist
    whose Requires-Python admits ``python`` (X.Y.Z; any interpreter when None).

    A release whose Requires-Python the index does not give is asked of ``fill`` (without one it
    counts as admitting every interpreter, as pip treats it).  When no release admits ``python``,
    the newest one is returned: the check then records it as not applicable, never builds it.
    """
    def known(release: Release) -> Release:
        return fill(release) if fill is not None and python is not None and release.requires_python is None else release

    if version is not None:
        try:
            wanted = Version(version)
        except InvalidVersion:
            raise UsageError(f"{version!r} is not a valid version") from None
        if wanted not in releases:
            raise VersionNotFound(name, version, tuple(str(v) for v in sorted(releases)))
        return known(releases[wanted])
    ordered = sorted(releases, reverse=True)
    finals = [v for v in ordered if not v.is_prerelease] or ordered
    newest: Release | None = None
    for candidate in finals:
        release = releases[candidate]
        if release.sdist and not release.sdist.yanked:
            release = known(release)
            if python is None or admits(release.requires_python, python):
                return release
            newest = newest or release
    if newest is not None:  # no release admits this interpreter
        return newest
    # nothing has an sdist: the newest release (that admits ``python``, if any), which gets no-sdist
    wheel_only = [releases[v] for v in finals if not all(w.yanked for w in releases[v].wheels)]
    admitted = [r for r in wheel_only if python is None or admits(r.requires_python, python)]
    for release in admitted[:1] or wheel_only[:1]:
        return Release(name, release.version, None, release.wheels, release.index_url, release.requires_python)
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
        entries = _json_files(text, page_url)
    else:
        entries = parse_html(text, response.url)
    return [_with_requires_python(_artifact(entry, response.url), entry) for entry in entries], response.url


def _json_files(text: str, page_url: str) -> list[Any]:
    """The ``files`` of a PEP 691 page; a page of more objects than MAX_FILES files have is refused
    while it is decoded (a page of empty objects would take 25 times its size in memory)."""
    objects = 0

    def count(obj: dict[str, Any]) -> dict[str, Any]:
        nonlocal objects
        objects += 1
        if objects > 8 * MAX_FILES:  # a file entry holds a few objects (hashes, core-metadata)
            raise IndexRefused(page_url, f"the page holds more objects than {MAX_FILES:,} files have")
        return obj

    try:
        files = json.loads(text, object_hook=count)["files"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise NetworkError(page_url, "the index answered with JSON that is not a PEP 691 project page") from None
    if not isinstance(files, list):
        raise NetworkError(page_url, "the index answered with JSON that is not a PEP 691 project page")
    if len(files) > MAX_FILES:
        raise IndexRefused(page_url, f"the page lists more than {MAX_FILES:,} files")
    return files


def project_releases(client: Client, index_url: str, name: str) -> dict[Version, Release]:
    """Every release the index lists for ``name`` (one request); ProjectNotFound when there is none."""
    files, _ = fetch_files(client, index_url, name)
    releases = releases_from_files(name, files, index_url)
    if not releases:
        refused = [f for f in files if f.refused]
        if refused:  # the page is there, but not one entry can be used: say why, not "no project"
            raise IndexRefused(f"every file of {name} on {index_url}", f"{refused[0].filename}: {refused[0].refused}")
        raise ProjectNotFound(name, index_url)
    return releases


def resolve_release(client: Client, index_url: str, requirement: str, python: str | None = None,
                    fill: Fill | None = None) -> Release:
    """``name[==version]`` on the index: the release pip would pick on ``python`` (see :func:`choose`)."""
    name, version = parse_requirement(requirement)
    return choose(project_releases(client, index_url, name), name, version, python, fill)


def resolve_per_python(client: Client, index_url: str, requirement: str, pythons: Sequence[str],
                       fill: Fill | None = None) -> dict[str, Release]:
    """The release pip would pick on each interpreter (X.Y.Z), from one read of the project's page."""
    name, version = parse_requirement(requirement)
    releases = project_releases(client, index_url, name)
    filled: dict[str, Release] = {}

    def once(release: Release) -> Release:  # each sdist's PKG-INFO is read at most once
        if release.version not in filled:
            filled[release.version] = fill(release) if fill else release
        return filled[release.version]

    return {python: choose(releases, name, version, python, once if fill else None) for python in pythons}
