"""Package lists: one project a line in lists/*.txt, and the refresh of the top-PyPI list.

A line is ``name`` or ``name==version`` (a pin), with ``#`` starting a comment.  Names are
canonicalised (PEP 503) so ``PyYAML`` and ``pyyaml`` are one entry across every list.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .. import USER_AGENT
from ..errors import InvalidList, PipelineError
from ..engine.net import atomic_write

LISTS_DIR = Path("lists")
TOP_LIST = LISTS_DIR / "top-pypi.txt"
#: the public monthly ranking of PyPI projects by 30-day downloads (hugovk/top-pypi-packages)
TOP_URL = "https://hugovk.github.io/top-pypi-packages/top-pypi-packages.min.json"
TOP_COUNT = 100

# PEP 508 names: letters, digits, and . _ - inside (not at the ends).
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class ListEntry:
    """One project a list asks for; ``version`` is None for "the latest release"."""

    name: str
    version: str | None
    source: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}" if self.version else self.name


def parse_line(line: str, where: str) -> ListEntry | None:
    """One list line -> an entry, None for blank and comment lines; InvalidList otherwise."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    name, sep, version = text.partition("==")
    name, version = name.strip(), version.strip()
    if not _NAME.match(name):
        raise InvalidList(where, line.rstrip("\n"), "expected NAME or NAME==VERSION")
    if sep and not version:
        raise InvalidList(where, line.rstrip("\n"), "empty version after '=='")
    if version:
        try:
            Version(version)
        except InvalidVersion:
            raise InvalidList(where, line.rstrip("\n"), f"{version!r} is not a valid version") from None
    return ListEntry(name=canonicalize_name(name), version=version or None, source=where)


def parse_list(text: str, origin: str) -> list[ListEntry]:
    """Every entry of one list's text, in order; ``origin`` names the file in errors."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = parse_line(line, f"{origin}:{number}")
        if entry is not None:
            entries.append(entry)
    return entries


def merge_entries(lists: Iterable[Iterable[ListEntry]]) -> list[ListEntry]:
    """Concatenate lists, keeping the first of each (name, pin).

    A pinned entry and an unpinned one for the same project are both kept: "the version
    SecureDrop ships" and "the latest release" are two different things to check.
    """
    seen: set[tuple[str, str | None]] = set()
    merged = []
    for entries in lists:
        for entry in entries:
            key = (entry.name, entry.version)
            if key not in seen:
                seen.add(key)
                merged.append(entry)
    return merged


def default_lists(lists_dir: Path = LISTS_DIR) -> list[Path]:
    """Every ``*.txt`` in the lists folder, in name order."""
    return sorted(lists_dir.glob("*.txt"))


def load_lists(paths: Sequence[Path] | None = None, lists_dir: Path = LISTS_DIR) -> list[ListEntry]:
    """Read the given list files (all of ``lists_dir`` when None) into one de-duplicated list."""
    chosen = list(paths) if paths else default_lists(lists_dir)
    if not chosen:
        raise PipelineError(f"no package lists: {lists_dir}/ has no *.txt file")
    parsed = []
    for path in chosen:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise PipelineError(f"cannot read list {path}: {exc.strerror or exc}") from None
        parsed.append(parse_list(text, str(path)))
    return merge_entries(parsed)


# -- the top-PyPI list -------------------------------------------------------------------------


def render_top_list(names: Sequence[str], source: str, generated: str) -> str:
    """The text of lists/top-pypi.txt: a header saying where the names came from, then names."""
    header = [
        f"# The {len(names)} most downloaded projects on PyPI (30-day downloads), most first.",
        f"# Source: {source}",
        f"# Generated: {generated}. Refresh with `nox -s lists` (keeps this file when offline).",
    ]
    return "\n".join(header + [canonicalize_name(n) for n in names]) + "\n"


def names_from_ranking(payload: object, count: int = TOP_COUNT) -> list[str]:
    """``rows[:count]`` project names of the public ranking JSON; PipelineError when malformed."""
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if not isinstance(rows, list) or not rows:
        raise PipelineError("the top-PyPI ranking has no 'rows' list")
    names = []
    for row in rows[:count]:
        project = row.get("project") if isinstance(row, dict) else None
        if not isinstance(project, str) or not _NAME.match(project):
            raise PipelineError(f"the top-PyPI ranking has a malformed row: {row!r}"[:200])
        names.append(canonicalize_name(project))
    return names


def _fetch_json(url: str, timeout: float) -> object:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - URL is ours or the caller's
        return json.loads(response.read().decode("utf-8"))


@dataclass(frozen=True)
class Refresh:
    """What ``refresh_top_list`` did: ``updated`` False means the committed file was kept."""

    updated: bool
    message: str


def refresh_top_list(
    dest: Path = TOP_LIST,
    url: str = TOP_URL,
    count: int = TOP_COUNT,
    fetch: Callable[[str, float], object] = _fetch_json,
    timeout: float = 20.0,
) -> Refresh:
    """Rewrite ``dest`` from the public ranking; keep it as it is when the ranking is unreachable."""
    try:
        payload = fetch(url, timeout)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        kept = f"{dest} kept as committed" if dest.exists() else f"{dest} does not exist yet"
        return Refresh(False, f"cannot reach {url} ({reason}); {kept}")
    except ValueError as exc:
        raise PipelineError(f"{url} did not answer JSON: {exc}") from None
    names = names_from_ranking(payload, count)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    atomic_write(dest, render_top_list(names, url, generated).encode("utf-8"))
    return Refresh(True, f"{dest}: {len(names)} projects from {url}")
