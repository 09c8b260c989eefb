"""Render the static site: pages from the view model, badges, JSON API, feed, copied logs.

The site is built in a fresh folder next to ``out_dir`` and swapped in at the end, so a server
never sees half a site and files from an older render never linger.  Project pages are split
into contiguous shards rendered by forked workers; every shard writes different files, and the
parts of ``api/results.json`` are joined in shard order, so the bytes never depend on workers.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import jinja2

from ..errors import PipelineError, UsageError
from ..records import VARIATIONS, Result, sortable_utc
from . import data, fragments
from .badges import Badge, badge_for, badge_svg
from .chart import describe, trend_svg
from .feed import render_feed
from .files import WriteCounts, Writer, dump, project_extras, results_json, write_project_api

HERE = Path(__file__).parent
MARKER = ".reproducible-wheels-site"
#: home page lists at most this many changes per kind; the feed and the matrix have the rest
HOME_CHANGES = 40
#: below this many projects, forking workers costs more than it saves
PARALLEL_FROM = 400


@dataclass(frozen=True)
class SiteSummary:
    out_dir: Path
    files: int
    projects: int
    results: int
    home_bytes: int
    logs_copied: int
    logs_missing: int


@dataclass(frozen=True)
class _Job:
    """Everything a shard needs; set before forking so workers inherit it instead of pickling it."""

    rows: Sequence[tuple[data.Project, Badge]]
    interpreters: Sequence[str]
    generated: str
    root: Path
    log_root: Path
    bounds: Sequence[tuple[int, int]]
    repository: str = ""


_JOB: _Job | None = None


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = fragments.when
    env.filters["pct"] = lambda value: f"{value:.1f}%"
    env.filters["safe_url"] = fragments.safe_url
    env.filters["status"] = fragments.status_html
    env.filters["hash"] = fragments.hash_html
    env.filters["css_text"] = fragments.css_text
    env.globals.update(icons=fragments.ICONS, labels=fragments.LABELS, slug=data.slug, variations=VARIATIONS)
    env.globals.update(slot_html=fragments.slot_html, environment_html=fragments.environment_html)
    env.globals.update(matrix_rows=fragments.matrix_rows, now_row=fragments.now_row, release_html=fragments.release_html)
    return env


def _render_shard(index: int) -> WriteCounts:
    """Project pages, badges and per-project JSON for one contiguous run of projects."""
    job = _JOB
    assert job is not None
    writer = Writer(job.root)
    page = environment().get_template("project.html")
    verdicts: list[str] = []
    pending: list[str] = []
    start, stop = job.bounds[index]
    common = {"generated": job.generated, "interpreters": job.interpreters, "root": "../", "page": "project",
              "repository": job.repository}
    for project, badge in job.rows[start:stop]:
        slots = data.project_slots(project, job.interpreters)
        agreements = data.release_agreements(project, job.interpreters)
        html = page.render(
            project=project,
            versions=data.group_versions(slots),
            page_controls=data.common_controls(slots),
            environments=data.page_environments(slots),
            extras=project_extras(slots, project.slug, job.log_root, writer),
            badge=badge,
            agreements=agreements,
            **common,
        )
        writer.write(f"projects/{project.slug}.html", html)
        writer.write(f"badges/{project.slug}.svg", badge_svg(badge))
        writer.write(f"badges/{project.slug}.json", dump(badge.endpoint()) + "\n")
        done, waiting = write_project_api(project, job.generated, writer, agreements)
        verdicts += done
        pending += waiting
    # parts of api/results.json, joined by the parent in shard order
    writer.write(f".part-{index}-results", ",".join(verdicts), count=False)
    writer.write(f".part-{index}-pending", ",".join(pending), count=False)
    return writer.counts


def _run_shards(job: _Job, meanwhile: Callable[[], None] = lambda: None) -> WriteCounts:
    """Render the project shards (in forked workers when there are several); ``meanwhile`` runs in
    this process while they work: the pages that need every project, rather than waiting idle."""
    global _JOB
    _JOB = job
    # The records are long-lived and acyclic: moving them out of the collector's sight saves the
    # repeated full scans (and, in forked workers, the copy-on-write page copies those scans cause).
    gc.freeze()
    try:
        if len(job.bounds) == 1:
            counts = [_render_shard(0)]
            meanwhile()
        else:
            with multiprocessing.get_context("fork").Pool(len(job.bounds)) as pool:
                pending = pool.map_async(_render_shard, range(len(job.bounds)))
                meanwhile()
                counts = pending.get()
    finally:
        _JOB = None
        gc.unfreeze()
    total = WriteCounts()
    for part in counts:
        total.add(part)
    return total


def _shard_bounds(count: int, workers: int) -> list[tuple[int, int]]:
    workers = max(1, min(workers, count // (PARALLEL_FROM // 2) or 1))
    if not hasattr(os, "fork"):
        workers = 1
    step = -(-count // workers) if count else 0
    return [(i * step, min(count, (i + 1) * step)) for i in range(workers)] or [(0, 0)]


def _home_context(projects: Sequence[data.Project], interpreters: Sequence[str]) -> dict[str, Any]:
    overall, per = data.summarize(projects, interpreters)
    points = data.trend(projects)
    boundary = data.last_run_start(projects)
    recent = data.changes_since(projects, boundary) if boundary else []
    recent.sort(key=lambda c: (c.name, data.interpreter_key(c.interpreter)))
    broke = [c for c in recent if c.after.status == "unreproducible"]
    fixed = [c for c in recent if c.after.status == "reproducible" and c.before is not None]
    return {
        "overall": overall,
        "per": per,
        "chart": trend_svg(points),
        "chart_text": describe(points),
        "boundary": boundary,
        "broke": broke[:HOME_CHANGES],
        "broke_total": len(broke),
        "fixed": fixed[:HOME_CHANGES],
        "fixed_total": len(fixed),
        "other_changes": len(recent) - len(broke) - len(fixed),
        "slugs": {p.name: p.slug for p in projects},
        "facts": data.method_facts(projects),
        "pending": data.pending_cells(projects),
        "project_count": len(projects),
        "statuses": data.STATUS_ORDER,
        "upstream": data.upstream_counts(projects),
    }


def render_site(
    results: Iterable[Result],
    out_dir: Path,
    *,
    generated: str,
    log_root: Path | None = None,
    workers: int = 2,
    extra: Mapping[str, bytes] | None = None,
    repository: str = "",
) -> SiteSummary:
    """Render every recorded attempt into a static site at ``out_dir`` (replaced as a whole).

    ``generated`` is the only time the site shows as "last updated"; relative log and diffoscope
    paths in the records are looked up under ``log_root`` (default: the current directory), and
    files outside it are never copied.  ``workers`` > 1 forks that many processes for the
    project pages of big sites; the output is the same bytes either way.  ``extra`` maps
    relative paths to files published as they are (the nightly's ``history/``); the JSON API
    page links the whole history when ``history/index.json`` is among them.  ``repository`` (the tracker's
    git URL) is where each page's commands say the tool comes from.
    """
    out_dir = Path(out_dir)
    try:
        sortable_utc(generated)
    except ValueError:
        raise UsageError(f"generated={generated!r} is not an ISO 8601 time") from None
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise PipelineError(f"{out_dir} is not empty and was not made by the site renderer; refusing to replace it")
    all_results = list(results)
    projects, interpreters = data.build_projects(all_results)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        counts = _render_into(
            staging, projects, interpreters, generated, (log_root or Path.cwd()).resolve(), workers, extra or {},
            repository,
        )
        _swap(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SiteSummary(
        out_dir=out_dir,
        files=counts.files,
        projects=len(projects),
        results=len(all_results),
        home_bytes=counts.home_bytes,
        logs_copied=counts.logs_copied,
        logs_missing=counts.logs_missing,
    )


def _render_into(
    root: Path,
    projects: Sequence[data.Project],
    interpreters: Sequence[str],
    generated: str,
    log_root: Path,
    workers: int,
    extra: Mapping[str, bytes],
    repository: str = "",
) -> WriteCounts:
    rows = [(p, badge_for(p.cells)) for p in projects]
    bounds = _shard_bounds(len(rows), workers)
    writer = Writer(root)

    def site_wide_pages() -> None:
        env = environment()
        common = {"generated": generated, "interpreters": interpreters, "root": "", "history": "history/index.json" in extra}
        writer.write(MARKER, "made by pipeline.site; this folder is replaced on every render\n")
        for name in ("site.css", "site.js"):
            writer.write(f"static/{name}", (HERE / "static" / name).read_text(encoding="utf-8"))
        home = _home_context(projects, interpreters)
        writer.write("index.html", env.get_template("home.html").render(page="home", **common, **home))
        agreements = {p.name: data.release_agreements(p, interpreters, p.latest_version)[p.latest_version]
                      for p in projects}
        matrix = env.get_template("matrix.html").render(page="matrix", rows=rows, statuses=data.STATUS_ORDER,
                                                        agreements=agreements, **common)
        writer.write("matrix.html", matrix)
        writer.write("api.html", env.get_template("api.html").render(page="api", **common))
        slugs = {p.name: p.slug for p in projects}
        feed = render_feed(
            data.all_changes(projects),
            generated=generated,
            link=lambda c: f"projects/{slugs[c.name]}.html#v-{data.slug(c.after.version)}-{data.slug(c.interpreter)}",
        )
        writer.write("feed.xml", feed)

    counts = _run_shards(_Job(rows, interpreters, generated, root, log_root, bounds, repository), meanwhile=site_wide_pages)

    parts: dict[str, list[str]] = {"results": [], "pending": []}
    for index in range(len(bounds)):
        for kind, found in parts.items():
            part = root / f".part-{index}-{kind}"
            text = part.read_text(encoding="utf-8")
            part.unlink()
            if text:
                found.append(text)
    writer.write("api/results.json", results_json(generated, interpreters, parts["results"], parts["pending"]))
    for relative, raw in sorted(extra.items()):
        target = root / relative
        if Path(relative).is_absolute() or ".." in Path(relative).parts or target.exists():
            raise PipelineError(f"refusing to publish {relative!r} in the site: outside it, or a rendered file")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        writer.counts.files += 1
    counts.add(writer.counts)
    return counts


def _swap(staging: Path, out_dir: Path) -> None:
    """Put the new site in place: rename the old one aside, rename the new one in, drop the old."""
    os.chmod(staging, 0o755)
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}-old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(staging, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
