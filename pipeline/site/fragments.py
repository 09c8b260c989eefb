"""The per-result block of a project page, written in Python rather than jinja2.

A site of 5,000 projects has 75,000 of these; jinja2 spends ~100 generator steps on each, which
alone would break the 10 s render budget.  Every value from a record goes through ``escape``
(``e`` below) exactly as autoescaping would; ``tests/test_site.py`` feeds it hostile strings.
"""

from __future__ import annotations

import html
import shlex
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from markupsafe import Markup

from ..errors import PipelineError
from ..agreement import groups
from ..records import NOT_APPLICABLE, PYPI_SIMPLE, VERIFIABLE, Agreement, Build, Difference, Environment, Result, Toolchain, sortable_utc
from .badges import Badge
from .data import UNCHECKED, Cell, Project, Attempts, VersionGroup, is_unsandboxed, slug



try:  # markupsafe's own C escaper, without building a Markup object per call (4x faster)
    from markupsafe._speedups import _escape_inner
except ImportError:  # pragma: no cover - markupsafe without its C extension
    _escape_inner = None


def e(text: str) -> str:
    """HTML-escape a record's string exactly as autoescape does (& < > " ' all escaped)."""
    if _escape_inner is not None:
        return _escape_inner(str(text))
    return html.escape(str(text), quote=True)


ICONS = {
    "reproducible": "✓",
    "unreproducible": "✗",
    "build-failed": "!",
    "timeout": "◔",
    "no-sdist": "∅",
    NOT_APPLICABLE: "⊘",
    "error": "↻",
    UNCHECKED: "–",
}
LABELS = {
    "reproducible": "reproducible",
    "unreproducible": "unreproducible",
    "build-failed": "build failed",
    "timeout": "timed out",
    "no-sdist": "no sdist",
    NOT_APPLICABLE: "not applicable",
    "error": "tracker error",
    UNCHECKED: "not checked yet",
}
#: a page shows this many differences per result; the JSON record has all of them
MAX_DIFFERENCES = 200
DETAIL_CHARS = 4000


def safe_url(url: str | None) -> str | None:
    """Only http(s) links from records become hrefs; anything else (javascript:, data:) stays text."""
    if not url:
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None


def css_text(text: str) -> str:
    """A record's string inside a CSS string (a column label): only characters that cannot end it."""
    return "".join(c for c in str(text) if c.isascii() and (c.isalnum() or c in "._+-"))


def when(text: str) -> str:
    try:
        moment = sortable_utc(text)
    except PipelineError:
        return text
    return moment[:16].replace("T", " ") + " UTC" if moment else "unknown"


# Helpers return plain str (already escaped); only what jinja2 receives is wrapped in Markup,
# because str + Markup would escape the str a second time.


def _status(status: str) -> str:
    icon = ICONS.get(status, "?")
    label = LABELS.get(status, status)
    return f'<span class="st st-{e(status)}"><span aria-hidden="true">{icon}</span> {e(label)}</span>'


def _hash(value: str | None) -> str:
    return f'<code class="hash">{e(value)}</code>' if value else '<span class="muted">none</span>'


def status_html(status: str) -> Markup:
    """Icon + words + colour class: a status never relies on colour alone."""
    return Markup(_status(status))


def hash_html(value: str | None) -> Markup:
    return Markup(_hash(value))


def link_html(url: str | None, text: str) -> str:
    href = safe_url(url)
    return f'<a href="{e(href)}">{e(text)}</a>' if href else str(e(text))


def build_facts(build: Build) -> str:
    parts = ["varied: " + ", ".join(build.variations) if build.variations else "controlled"]
    parts.append(f"{build.seconds:.1f} s")
    if build.timed_out:
        parts.append("timed out")
    elif build.returncode is not None:
        parts.append(f"exit {build.returncode}")
    return ", ".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " […]"


def _per_build(builds: Sequence[Build], field: str, render) -> str:
    values = [getattr(b, field) for b in builds]
    if len(values) == 2 and values[0] and values[0] == values[1]:
        return f'{render(values[0])} <span class="muted">(both builds)</span>'
    return "<br>".join(f"{i}: {render(v)}" for i, v in enumerate(values, 1))


def _differences(differences: Sequence[Difference]) -> str:
    count = len(differences)
    rows = "".join(
        f'<tr><td><code>{e(d.path or "(archive)")}</code></td><td>{e(d.kind)}</td>'
        f'<td>{e(d.cause or "not explained yet")}</td>'
        f'<td>{f"<pre>{e(_clip(d.detail, DETAIL_CHARS))}</pre>" if d.detail else ""}</td></tr>\n'
        for d in differences[:MAX_DIFFERENCES]
    )
    more = (
        f'<p class="muted">{count - MAX_DIFFERENCES} more in the JSON record.</p>' if count > MAX_DIFFERENCES else ""
    )
    return (
        f'<div class="scroll"><table class="diffs">\n<caption>{count} difference{"s" if count != 1 else ""} '
        "between the two builds</caption>\n"
        '<thead><tr><th scope="col">Member</th><th scope="col">What differs</th><th scope="col">Cause</th>'
        f'<th scope="col">Detail</th></tr></thead>\n<tbody>\n{rows}</tbody></table></div>\n{more}'
    )


def _upstream(r: Result) -> str:
    up = r.upstream
    if up is None:
        return ""
    out = f"<strong>{e(up.status)}</strong>"
    if up.wheel:
        out += ": " + link_html(up.url, up.wheel)
    if up.sha256:
        out += f", sha256 {_hash(up.sha256)}"
    if up.note:
        out += f"<br>{e(up.note)}"
    if up.passes:
        out += f'<br><span class="muted">normalised: {e(", ".join(up.passes))}</span>'
    if up.toolchain:
        out += _toolchain(up.toolchain)
    if up.differences:
        items = "".join(
            f'<li><code>{e(d.path or "(archive)")}</code>: {e(d.kind)}'
            f'{f" ({e(d.cause)})" if d.cause else ""}{f": {e(_clip(d.detail, 500))}" if d.detail else ""}</li>'
            for d in up.differences[:50]
        )
        out += f"<ul>{items}</ul>"
    return f"<dt>vs. index wheel</dt><dd>{out}</dd>\n"


def _toolchain(chain: Toolchain) -> str:
    """The environment inferred from the index's wheel, or why none was: where each part came from."""
    made = f"<code>{e(chain.backend)}=={e(chain.version)}</code>" if chain.backend else ""
    read = f' from <code>{e(chain.generator)}</code> in its <code>WHEEL</code>' if chain.generator else ""
    head = {"matched": "Rebuilt with the toolchain that made it", "not-needed": "Toolchain that made it",
            "not-inferred": "Toolchain not inferred", "failed": "Rebuild with the toolchain that made it failed"}
    rows = [f"<strong>{e(head.get(chain.status, chain.status))}</strong>"
            + (f": {e(chain.reason)}" if chain.reason else "")]
    if made:
        rows.append(f"backend {made}{read}"
                    + (f", Metadata-Version {e(chain.metadata_version)}" if chain.metadata_version else ""))
    if chain.guessed:
        rows.append("guessed (the wheel does not say): " + ", ".join(f"<code>{e(g)}</code>" for g in chain.guessed))
    if chain.cutoff:
        rows.append(f"everything else as uploaded before {e(chain.cutoff)} ({e(chain.cutoff_source)})"
                    + (f", resolved by {e(chain.resolver)}" if chain.resolver else ""))
    if chain.status == "matched":
        sde = chain.source_date_epoch if chain.source_date_epoch is not None else "unset"
        rows.append(f"<code>SOURCE_DATE_EPOCH={e(sde)}</code>: {e(chain.timestamps)}")
        if chain.config_settings:
            rows.append("config settings: " + " ".join(f"<code>{e(c)}</code>" for c in chain.config_settings))
        if chain.env_vars:
            rows.append("environment: " + " ".join(f"<code>{e(v)}</code>" for v in chain.env_vars))
        if chain.today:
            rows.append(f"with today's toolchain (the controlled rebuild): {e(chain.today)}")
    rows += [e(note) for note in chain.notes]
    lock = "".join(f"{e(line)}\n" for line in chain.lock)
    tail = f'<details><summary>lock ({len(chain.lock)})</summary><pre class="lock">{lock}</pre></details>' if lock else ""
    return '<div class="toolchain">' + "<br>".join(rows) + tail + "</div>"


def _result(
    r: Result,
    *,
    anchor: str,
    root: str,
    extras: Mapping[str, Any],
    page_controls: Sequence[tuple[str, str]],
    release_sdist_sha: str | None,
    api: str = "",
    repository: str = "",
) -> str:
    """The details of one verdict: wheels, hashes, builds and logs, environment, causes, command."""
    rows = []
    if r.message:
        rows.append(f"<dt>Note</dt><dd>{e(r.message)}</dd>")
    if r.status == NOT_APPLICABLE:  # nothing was built: no wheels, environment or sandbox to show
        rows.append(f"<dt>Requires-Python</dt><dd><code>{e(r.requires_python or '')}</code></dd>")
        return '<dl class="kv">\n' + "\n".join(rows) + "</dl>\n" + _reproduce(r, anchor, root, api, repository)
    if r.builds:
        logs = extras.get("logs") or []
        builds = []
        for i, b in enumerate(r.builds):
            log = logs[i] if i < len(logs) else None
            log_link = f', <a href="{e(root + log)}">log</a>' if log else ""
            builds.append(f"{i + 1}: {e(build_facts(b))}{log_link}")
        rows.append(f"<dt>Wheels</dt><dd>{_per_build(r.builds, 'wheel', lambda w: e(w or 'none built'))}</dd>")
        rows.append(f"<dt>sha256</dt><dd>{_per_build(r.builds, 'sha256', _hash)}</dd>")
        rows.append(f"<dt>Builds</dt><dd>{'<br>'.join(builds)}</dd>")
    if r.sdist and r.sdist.sha256 != release_sdist_sha:
        rows.append(f"<dt>Sdist</dt><dd>{link_html(r.sdist.url, r.sdist.filename)} sha256 {_hash(r.sdist.sha256)}</dd>")
    if r.environment:
        fingerprint = r.environment.fingerprint
        env = f'<a href="#env-{e(slug(fingerprint))}">{_hash(fingerprint)}</a>'
    else:
        env = '<span class="muted">not recorded</span>'
    rows.append(f"<dt>Environment</dt><dd>{env}</dd>")
    if r.isolation:
        iso = r.isolation
        text = f"sandbox <code>{e(iso.sandbox)}</code>, network {'off' if iso.offline else 'ON'}"
        if iso.user:
            text += f", user <code>{e(iso.user)}</code>"
        if is_unsandboxed(r):
            text += ' <span class="flag">⚠ not isolated from the host</span>'
    else:
        text = '<span class="muted">not recorded</span>'
    rows.append(f"<dt>Isolation</dt><dd>{text}</dd>")
    controls = sorted((k, str(v)) for k, v in r.controls.items())
    if controls and controls != list(page_controls):
        rows.append("<dt>Controls</dt><dd>" + " ".join(f"<code>{e(k)}={e(v)}</code>" for k, v in controls) + "</dd>")
    if r.sensitive_to:
        rows.append("<dt>Sensitive to</dt><dd>" + ", ".join(f"<code>{e(v)}</code>" for v in r.sensitive_to) + "</dd>")
    if r.variations:
        outcomes = ", ".join(
            f'<code>{e(name)}</code> <span class="v-{e(outcome)}">{e(outcome)}</span>'
            for name, outcome in sorted(r.variations.items())
        )
        rows.append(f"<dt>Variations</dt><dd>{outcomes}</dd>")
    report = extras.get("diffoscope")
    if report:
        href = report if safe_url(report) else root + report
        rows.append(f'<dt>diffoscope</dt><dd><a href="{e(href)}">full report</a></dd>')
    elif r.diffoscope:
        rows.append('<dt>diffoscope</dt><dd class="muted">a report was made but is not published here</dd>')
    rows.append(_upstream(r))
    html = '<dl class="kv">\n' + "\n".join(rows) + "</dl>\n"
    if r.differences:
        html += _differences(r.differences)
    if r.variation_differences:
        html += '<p class="muted">What changes under the variations (against the controlled wheel):</p>\n'
        html += _differences(r.variation_differences)
    return html + _reproduce(r, anchor, root, api, repository)


def tool_command(repository: str = "") -> str:
    """How a stranger runs the tool: pipx straight from the tracker's repository when the site knows it."""
    return shlex.join(["pipx", "run", "--spec", f"git+{repository}", "wheelrepro"]) if repository else "wheelrepro"


def _command(rid: str, label: str, text: str, data: str = "") -> str:
    return (
        f'<span id="{rid}-label">{label}</span>\n'
        f'<pre><code id="{rid}"{data}>{e(text)}</code></pre>'
        f'<button type="button" class="copy" data-copy="{rid}" aria-describedby="{rid}-label" hidden>'
        "Copy command</button>\n"
    )


def _check_anew(r: Result, tool: str) -> str:
    """The check command for the record's release and Python (it resolves the build requirements anew)."""
    minor = ".".join(r.python.split(".")[:2]) + ("t" if r.interpreter.endswith("t") else "")
    words = shlex.split(tool) + ["check", f"{r.name}=={r.version}", "--python", minor]
    if r.index_url and r.index_url.rstrip("/") != PYPI_SIMPLE.rstrip("/"):
        words += ["--index-url", r.index_url]
    return shlex.join(words)


def _reproduce(r: Result, anchor: str, root: str = "", api: str = "", repository: str = "") -> str:
    """How to repeat a result, with where the tool comes from.  A verdict with a wheel is re-derived from
    this very record on the site (its URL made absolute by the page's script): its exact Python, locks,
    sdist and controls; the record's own ``reproduce`` names the store it was made in, which only its
    machine has.  Anything else is repeated with its ``reproduce`` check command."""
    if not r.reproduce:
        return ""
    tool = tool_command(repository)
    html = '<div class="repro">'
    if api and r.status in VERIFIABLE and r.environment is not None:
        record = root + api
        words = shlex.split(tool) + ["check", "--from-record", record, f"{r.name}=={r.version}", "--python", r.python]
        html += _command(f"d-{anchor}", "Reproduce: re-derive this record (its exact Python, locks, sdist and "
                         "controls; says <q>verified</q> or what differs):", shlex.join(words),
                         f' data-record="{e(record)}"')
        html += f' <a class="small" href="{e(record)}">the record (JSON)</a>\n'
        html += _command(f"r-{anchor}", "Check the release anew (resolves the build requirements again):",
                         _check_anew(r, tool))
    else:
        again = r.reproduce
        if again.startswith("wheelrepro ") and tool != "wheelrepro":
            again = tool + again[len("wheelrepro"):]
        html += _command(f"r-{anchor}", "Reproduce (resolves the build requirements again):", again)
    where = (f"The tool comes from {link_html(repository, repository)} (pipx runs it without installing it)"
             if repository and safe_url(repository) else
             "<code>wheelrepro</code> is this tracker's command (<code>pipx install .</code> in a checkout of it)")
    return html + f'<p class="muted small">{where}; builds run as root, which the sandbox needs.</p></div>\n'


def slot_html(slot: Attempts, *, root: str, extras: Mapping[int, Mapping[str, Any]],
              page_controls: Sequence[tuple[str, str]], release_sdist_sha: str | None, api: str = "",
              repository: str = "") -> Markup:
    """One version x interpreter: the verdict's details, a pending retry, and older attempts."""
    anchor = f"{slug(slot.version)}-{slug(slot.interpreter)}"
    r = slot.current
    head = f"{e(slot.interpreter)} {_status(r.status if r else UNCHECKED)}"
    if r:
        head += f' <span class="muted">Python {e(r.python)}, {e(when(r.finished))}</span>'
        if is_unsandboxed(r):
            head += ' <span class="flag">⚠ unsandboxed</span>'
    html = (
        f'<section class="slot" id="v-{anchor}" aria-label="{e(slot.version)} on {e(slot.interpreter)}">\n'
        f"<h3>{head}</h3>\n"
    )
    pending = slot.pending
    if pending:
        note = f": <q>{e(pending.message)}</q>" if pending.message else ""
        logs = (extras.get(id(pending)) or {}).get("logs") or []
        links = "".join(f' <a href="{e(root + log)}">Log {i}</a>' for i, log in enumerate(logs, 1) if log)
        html += (
            f'<p class="note">↻ A newer attempt at {e(when(pending.finished))} failed on the tracker\'s side{note}. '
            f"It will be retried; it is not a verdict on the package.{links}</p>\n"
        )
    if r:
        html += _result(r, anchor=anchor, root=root, extras=extras.get(id(r)) or {},
                        page_controls=page_controls, release_sdist_sha=release_sdist_sha, api=api,
                        repository=repository)
    if slot.earlier:
        count = len(slot.earlier)
        rows = "".join(
            f"<tr><td>{e(when(old.finished))}</td><td>{e(old.version)}</td><td>{_status(old.status)}</td>"
            f"<td>{_hash(old.builds[0].sha256 if old.builds else None)}</td><td>{e(old.message)}</td></tr>\n"
            for old in slot.earlier
        )
        html += (
            f'<details class="earlier"><summary>{count} earlier attempt{"s" if count != 1 else ""}</summary>\n'
            '<table><thead><tr><th scope="col">Finished</th><th scope="col">Version</th><th scope="col">Status</th>'
            '<th scope="col">Wheel sha256 (build 1)</th><th scope="col">Note</th></tr></thead><tbody>\n'
            f"{rows}</tbody></table></details>\n"
        )
    return Markup(html + "</section>\n")


def environment_html(env: Environment) -> Markup:
    """An environment, once per page: results link to it by fingerprint."""
    lock = "".join(f"{e(line)}\n" for line in (*env.toolchain, *env.requirements))
    return Markup(
        f'<section class="env" id="env-{e(slug(env.fingerprint))}" aria-label="environment {e(env.fingerprint)}">\n'
        f"<h3>{_hash(env.fingerprint)}</h3>\n"
        f"<p>Python {e(env.python)} ({e(env.interpreter)}), venv at <code>{e(env.path)}</code>, "
        f"interpreter + toolchain fingerprint {_hash(env.base)}</p>\n"
        f'<pre class="lock">{lock}</pre>\n</section>\n'
    )


#: the second, small marker in a cell: how the index's own wheel compares with the rebuild
UPSTREAM_MARKS = {"identical": "= index", "equivalent": "≈ index", "different": "≠ index"}


def _cell(cell: Cell | None, href: str, newest: str = "") -> str:
    """A matrix cell; the icon comes from the stylesheet (5,000 rows x 5 cells: bytes count here).
    A cell showing another version than the row's newest says which."""
    if cell is None:
        return f'<td class="st-{UNCHECKED}"><span>not tried</span></td>'
    status = cell.status
    shown = cell.shown
    retry = " retry" if cell.pending else ""
    note = ""
    if newest and shown.version != newest:
        note += f" <small>{e(shown.version)}</small>"
    if cell.not_applicable is not None and cell.not_applicable.requires_python:
        note += f" <small>needs Python {e(cell.not_applicable.requires_python)}</small>"
    if cell.pending:
        note += " <small>↻ retrying</small>"
    upstream = cell.verdict.upstream if cell.verdict else None
    pypi = ""
    if upstream is not None and upstream.status in UPSTREAM_MARKS:
        note += f" <small>{UPSTREAM_MARKS[upstream.status]}</small>"
        pypi = " pypi-ok" if upstream.reproduced else " pypi-no"
    return (
        f'<td class="st-{status}{retry}{pypi}"><a href="{e(href)}#v-{slug(shown.version)}-{slug(shown.interpreter)}">'
        f"{LABELS[status]}{note}</a></td>"
    )


def agreement_mark(agreement: Agreement | None) -> str:
    """The matrix's at-a-glance answer: did every Python build the row's pure wheel to the same bytes?"""
    if agreement is None:
        return '<td class="ag"></td>'
    if agreement.status == "same":
        return '<td class="ag ag-same">= same wheel</td>'
    return f'<td class="ag ag-differs">≠ {len(set(agreement.wheels.values()))} wheels</td>'


def matrix_rows(rows: Sequence[tuple[Project, Badge]], interpreters: Sequence[str], prefix: str,
                agreements: Mapping[str, Agreement | None] | None = None) -> Markup:
    """The matrix body: one row per project, icon + words + colour per cell (5,000 rows: Python, not jinja2)."""
    out = []
    agreements = agreements or {}
    for project, badge in rows:
        href = f"{prefix}{project.slug}.html"
        newest = project.latest_version
        cells = "".join(_cell(project.cells.get(tag), href, newest) for tag in interpreters)
        out.append(
            f'<tr><th scope="row"><a href="{e(href)}">{e(project.name)}</a></th>'
            f"<td>{e(newest)}</td><td class=\"b\">{e(badge.message)}</td>"
            f"{agreement_mark(agreements.get(project.name))}{cells}</tr>\n"
        )
    return Markup("".join(out))


def now_row(project: Project, interpreters: Sequence[str]) -> Markup:
    """The project page's one-row summary: latest verdict per Python, linking down the page."""
    return Markup("".join(_cell(project.cells.get(tag), "", project.latest_version) for tag in interpreters))


def agreement_html(agreement: Agreement | None) -> str:
    """A release's line on its project page: the same pure wheel on every Python, or how and why not."""
    if agreement is None:
        return ""
    if agreement.status == "same":
        (sha, tags), = groups(agreement)
        return (f'<p class="agreement ag-same"><strong>= Across Pythons:</strong> the same wheel on '
                f"{e(', '.join(tags))}, sha256 {_hash(sha)}</p>\n")
    rows = "".join(f"<li>sha256 {_hash(sha)} on {e(', '.join(tags))}</li>" for sha, tags in groups(agreement))
    why = "".join(f"<li>{e(reason)}</li>" for reason in agreement.reasons)
    members = _differences(agreement.differences) if agreement.differences else ""
    return (f'<div class="agreement ag-differs"><p><strong>≠ Across Pythons:</strong> the pure wheel differs '
            f"between interpreters.</p><ul>{rows}</ul><p>Why:</p><ul>{why}</ul>{members}</div>\n")


def release_html(project: Project, group: VersionGroup, *, root: str, extras: Mapping[int, Mapping[str, Any]],
                 page_controls: Sequence[tuple[str, str]], agreement: Agreement | None = None,
                 repository: str = "") -> Markup:
    """One release on a project page: its sdist once, then each interpreter's slot."""
    sdist = group.sdist
    if sdist:
        line = f"{link_html(sdist.url, sdist.filename)}, sha256 {_hash(sdist.sha256)}"
    else:
        line = '<span class="muted">none published</span>'
    sha = sdist.sha256 if sdist else None
    slots = "".join(
        slot_html(slot, root=root, extras=extras, page_controls=page_controls, release_sdist_sha=sha,
                  api=f"api/projects/{project.slug}.json", repository=repository)
        for slot in group.slots
    )
    return Markup(
        f'<h2 id="v-{slug(group.version)}">{e(project.name)} {e(group.version)}</h2>\n'
        f'<p class="sdist">Sdist: {line}</p>\n{agreement_html(agreement)}{slots}'
    )
