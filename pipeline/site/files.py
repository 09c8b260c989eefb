"""Writing the site's files: the counting writer, copied logs and reports, and the JSON API."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from ..records import Agreement, Result
from . import data
from .fragments import safe_url

#: build logs are copied up to this size: the head, a marker, then the tail (where errors are)
LOG_HEAD, LOG_TAIL = 64 * 1024, 192 * 1024
#: diffoscope reports above this are not copied (the page says a report exists)
DIFFOSCOPE_MAX = 8 * 1024 * 1024


def dump(value: object) -> str:
    """Compact, key-sorted JSON; ASCII output (non-ASCII as \\u escapes) is valid and ~30% faster."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class WriteCounts:
    files: int = 0
    home_bytes: int = 0
    logs_copied: int = 0
    logs_missing: int = 0

    def add(self, other: WriteCounts) -> None:
        self.files += other.files
        self.home_bytes = max(self.home_bytes, other.home_bytes)
        self.logs_copied += other.logs_copied
        self.logs_missing += other.logs_missing


@dataclass
class Writer:
    """Writes UTF-8 files under ``root``, creating folders once, counting what it wrote."""

    root: Path
    counts: WriteCounts = field(default_factory=WriteCounts)
    made: set[str] = field(default_factory=set)

    def write(self, relative: str, text: str, *, count: bool = True) -> None:
        # plain os.path: 20,000 files through pathlib cost a second of the render budget
        target = os.path.join(self.root, relative)
        folder = os.path.dirname(target)
        if folder not in self.made:
            os.makedirs(folder, exist_ok=True)
            self.made.add(folder)
        raw = text.encode("utf-8")
        with open(target, "wb") as handle:
            handle.write(raw)
        self.counts.files += count
        if relative == "index.html":
            self.counts.home_bytes = len(raw)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _existing(source: str, root: Path) -> Path | None:
    """The file a record points at, only if it exists inside ``root`` (symlinks resolved)."""
    # stat first: resolving symlinks is the slow part, and most renders look up many paths
    if not os.path.isfile(os.path.join(root, source)):
        return None
    path = (root / source).resolve()
    return path if _inside(path, root) else None


def copy_log(source: str | None, root: Path, writer: Writer, relative: str) -> str | None:
    """Copy a build log as plain text if it exists under ``root``; never parse it."""
    if not source:
        return None
    path = _existing(source, root)
    if path is None:
        writer.counts.logs_missing += 1
        return None
    with path.open("rb") as handle:
        raw = handle.read(LOG_HEAD + LOG_TAIL + 1)
        if len(raw) > LOG_HEAD + LOG_TAIL:
            size = path.stat().st_size
            handle.seek(size - LOG_TAIL)
            note = f"\n\n[... {size - LOG_HEAD - LOG_TAIL} bytes cut; the full log is kept with the results ...]\n\n"
            raw = raw[:LOG_HEAD] + note.encode() + handle.read()
    writer.write(relative, raw.decode("utf-8", errors="replace"))
    writer.counts.logs_copied += 1
    return relative


def copy_diffoscope(source: str | None, root: Path, writer: Writer, relative: str) -> str | None:
    """An http(s) report is linked; a local one is copied if it is under ``root`` and not huge."""
    if not source:
        return None
    if safe_url(source):
        return source
    path = _existing(source, root)
    if path is None or path.stat().st_size > DIFFOSCOPE_MAX:
        return None
    writer.write(relative, path.read_text(encoding="utf-8", errors="replace"))
    return relative


def _stamp(result: Result) -> str:
    return data.sortable_utc(result.finished).replace("-", "").replace(":", "").replace(".", "") or "unknown"


def project_extras(slots: Sequence[data.Attempts], project_slug: str, root: Path, writer: Writer) -> dict[int, dict]:
    """Per shown result (by id): its copied logs and diffoscope report, as site-relative paths."""
    extras: dict[int, dict] = {}
    for result in data.shown_results(slots):
        base = f"{project_slug}/{data.slug(result.version)}/{data.slug(result.interpreter)}/{_stamp(result)}"
        logs = [
            copy_log(build.log, root, writer, f"logs/{base}-build{i + 1}.txt") for i, build in enumerate(result.builds)
        ]
        report = copy_diffoscope(result.diffoscope, root, writer, f"diffoscope/{base}.html")
        extras[id(result)] = {"logs": logs, "diffoscope": report}
    return extras


def _record(result: Result, agreements: Mapping[str, Agreement | None]) -> str:
    """A record as the API serves it: with its release's agreement across interpreters (derived here,
    from every interpreter's result, so every record of the release carries the same answer)."""
    record = result.to_json()
    found = agreements.get(result.version)
    if found is not None:
        record["agreement"] = found.to_json()
    return dump(record)


def write_project_api(
    project: data.Project, generated: str, writer: Writer, agreements: Mapping[str, Agreement | None] | None = None
) -> tuple[list[str], list[str]]:
    """``api/projects/NAME.json`` (all attempts, newest first); returns the cells' shown and pending JSON
    (a not-applicable record is what its cell shows, so it is among the results)."""
    agreements = agreements or {}
    dumped = {id(r): _record(r, agreements) for r in project.history}
    newest_first = ",".join(dumped[id(r)] for r in reversed(project.history))
    head = dump({"name": project.name, "generated": generated})[:-1]
    writer.write(f"api/projects/{project.slug}.json", f'{head},"results":[{newest_first}]}}\n')
    verdicts = [dumped[id(c.not_applicable or c.verdict)] for c in project.cells.values()
                if (c.not_applicable or c.verdict) is not None]
    pending = [dumped[id(c.pending)] for c in project.cells.values() if c.pending is not None]
    return verdicts, pending


def results_json(generated: str, interpreters: Sequence[str], verdicts: Sequence[str], pending: Sequence[str]) -> str:
    head = dump({"generated": generated, "interpreters": list(interpreters), "schema": 1})[:-1]
    return f'{head},"results":[{",".join(verdicts)}],"pending":[{",".join(pending)}]}}\n'
