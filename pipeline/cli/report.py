"""Text for people: the results table, one line per finished check, the details (pure functions).

Every line made here goes through :func:`~pipeline.cli.text.printable` as it is made, so a
member name or wheel file name can neither move the cursor nor forge a row; blocks are joined
only with the tool's own newlines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..explain import format_differences
from ..records import Agreement, Result, Toolchain, Upstream
from .text import printable

ICONS = {
    "reproducible": "ok ",
    "unreproducible": "DIFF",
    "build-failed": "FAIL",
    "timeout": "TIME",
    "no-sdist": "----",
    "not-applicable": "n/a ",
    "error": "ERR ",
}
#: the header over a list of differences (format_differences' columns)
DIFFERENCE_HEADER = f"{'cause':<18} {'kind':<11} member: detail"


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def _build_sha(number: int) -> Callable[[Result], str]:
    return lambda r: _short(r.builds[number].sha256) if len(r.builds) > number else "-"


#: the table's columns, in order: (header, cell); a new column is one line here
COLUMNS: tuple[tuple[str, Callable[[Result], str]], ...] = (
    ("package", lambda r: r.name),
    ("version", lambda r: r.version),
    ("python", lambda r: r.python),
    ("status", lambda r: f"{ICONS.get(r.status, '?   ')} {r.status}"),
    ("build 1", _build_sha(0)),
    ("build 2", _build_sha(1)),
    ("environment", lambda r: r.environment.fingerprint[:12] if r.environment else "-"),
    ("pypi", lambda r: pypi_cell(r.upstream)),
)


def table(results: Sequence[Result]) -> str:
    """One row per result under a header; cells made printable before they are measured."""
    rows = [tuple(header for header, _ in COLUMNS)]
    rows += [tuple(printable(cell(r)) for _, cell in COLUMNS) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if any(pypi_cell(r.upstream).endswith("*") for r in results):
        lines.append(NOT_MATCHED_FOOTNOTE)
    return "\n" + "\n".join(lines)


def shown_path(path: str | Path | None) -> str:
    """A path as a reader can use it: relative to the working directory when it is under it."""
    if not path:
        return ""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


def failure_log(result: Result, kept: Path | None = None) -> str:
    """The log that says why a check failed: the failing build's, else the environment's (in ``kept``)."""
    if result.status in ("reproducible", "unreproducible", "not-applicable"):
        return ""
    for build in reversed(result.builds):
        if build.log:
            return shown_path(build.log)
    if kept is not None and (kept / "environment.log").is_file():
        return shown_path(kept / "environment.log")
    return ""


def result_line(result: Result, log: str = "") -> str:
    """The one line a finished check prints: what, on which Python, the status, and why or how long."""
    what = f"{result.name} {result.version} on Python {result.python or '?'}"
    seconds = sum(build.seconds for build in result.builds)
    if result.status == "reproducible":
        tail = f"{len(result.builds)} builds, {seconds:.1f}s"
        if result.sensitive_to:
            tail += f"; sensitive to {', '.join(result.sensitive_to)}"
        line = f"{what}: reproducible ({tail})"
    elif result.status == "unreproducible":
        line = f"{what}: unreproducible ({len(result.differences)} differences)"
    else:
        line = f"{what}: {result.status}: {result.message}".rstrip(": ")
    return printable(line + (f"; log: {log}" if log else ""))


def difference_lines(differences, limit: int, indent: str = "    ") -> list[str]:
    """A header, then one printable line per difference (member names are package-chosen text)."""
    lines = format_differences(differences, limit=limit)
    if not lines:
        return []
    return [indent + DIFFERENCE_HEADER] + [indent + printable(line) for line in lines]


# -- the index's wheel (pipeline.upstream) ---------------------------------------------------------
NOT_MATCHED_FOOTNOTE = "* compared with the controlled rebuild: the index's toolchain was not inferred or not rebuilt"


def pypi_cell(upstream: Upstream | None) -> str:
    """The table's PyPI column: how the index's wheel compares; * when not with its own toolchain."""
    if upstream is None:
        return "-"
    chain = upstream.toolchain
    unmatched = chain is not None and chain.status in ("not-inferred", "failed") and upstream.status != "identical"
    return upstream.status + ("*" if unmatched else "")


def toolchain_lines(chain: Toolchain) -> list[str]:
    """How the rebuild compared with the index's wheel was made: the inferred toolchain, or why not."""
    made = f"{chain.backend}=={chain.version}" if chain.backend else ""
    where = f" (from {chain.generator!r} in its WHEEL)" if chain.generator else ""
    if chain.status in ("not-inferred", "failed"):
        head = f"    toolchain: {chain.status}: {chain.reason}"
        return [head] + ([f"      inferred {made}{where}"] if made else [])
    lines = [f"    toolchain: {chain.status}: {made}{where}, the rest as of {chain.cutoff}"]
    if chain.status == "matched":
        sde = chain.source_date_epoch if chain.source_date_epoch is not None else "unset"
        lines.append(f"      SOURCE_DATE_EPOCH={sde}: {chain.timestamps}")
        lines.append(f"      lock: {' '.join(line.split()[0] for line in chain.lock)}; with today's toolchain: {chain.today}")
        if chain.config_settings:
            lines.append(f"      config settings: {' '.join(chain.config_settings)}")
        if chain.env_vars:
            lines.append(f"      environment: {' '.join(chain.env_vars)}")
        if chain.build and chain.build.log:
            lines.append(f"      log: {chain.build.log}")
    lines += [f"      note: {note}" for note in chain.notes]
    return lines


def upstream_lines(upstream: Upstream, limit: int = 5) -> list[str]:
    """The index's wheel against the rebuild: status, note, and the first few differing members."""
    lines = [printable(f"  vs the index's wheel: {upstream.status} {upstream.note}".rstrip())]
    if upstream.wheel:
        lines.append(printable(f"    wheel:    {upstream.wheel}  {_short(upstream.sha256)}"))
    if upstream.toolchain:
        lines += [printable(line) for line in toolchain_lines(upstream.toolchain)]
    return lines + difference_lines(upstream.differences, limit, indent="    ")


def agreement_lines(agreement: Agreement, limit: int = 5) -> list[str]:
    """Whether every interpreter built the release's pure wheel to the same bytes, and why not."""
    if agreement.status == "same":
        return [printable(f"  across Pythons: the same wheel on {', '.join(agreement.wheels)}")]
    lines = ["  across Pythons: the wheels differ"]
    by_sha: dict[str, list[str]] = {}
    for tag, sha in agreement.wheels.items():
        by_sha.setdefault(sha, []).append(tag)
    lines += [f"    {_short(sha)} on {', '.join(tags)}" for sha, tags in by_sha.items()]
    lines += [printable(f"    why: {reason}") for reason in agreement.reasons]
    return lines + difference_lines(agreement.differences, limit)


def agreement_blocks(results: Iterable[Result], limit: int = 5) -> Iterable[str]:
    """Each release's agreement across the Pythons it was built on, once per release."""
    told: set[tuple[str, str]] = set()
    for r in results:
        if r.agreement and (r.name, r.version) not in told:
            told.add((r.name, r.version))
            yield "\n".join(["", printable(f"{r.name} {r.version}:")] + agreement_lines(r.agreement, limit))


def upstream_blocks(results: Iterable[Result], limit: int = 5) -> Iterable[str]:
    """The index's wheel against the rebuilds, once per release: interpreters with the same outcome share it."""
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        if r.upstream is not None:
            u, chain = r.upstream, r.upstream.toolchain
            made = (chain.status, chain.backend, chain.version, chain.reason) if chain else None
            groups.setdefault((r.name, r.version, u.status, u.wheel, u.sha256, u.note, u.differences, made), []).append(r)
    for (name, version, *_), members in groups.items():
        upstream = members[0].upstream
        where = ", ".join(r.interpreter for r in members)
        lines = ["", printable(f"{name} {version} vs the index's wheel ({where}): {upstream.status}"
                               f"{' - ' + upstream.note if upstream.note else ''}")]
        if upstream.wheel:
            lines.append(printable(f"    wheel:    {upstream.wheel}  {_short(upstream.sha256)}"))
        if upstream.toolchain:
            lines += [printable(line) for line in toolchain_lines(upstream.toolchain)]
        lines += difference_lines(upstream.differences, limit)
        yield "\n".join(lines)


def details(results: Iterable[Result], upstream: bool = True, logs: Callable[[Result], str] = failure_log,
            rederive: Callable[[Result], str] = lambda r: "") -> Iterable[str]:
    """A block per result; with ``upstream=False`` the index comparison is left to :func:`upstream_blocks`;
    ``rederive`` gives the command that rebuilds a record from where --json wrote it ("" for none)."""
    for r in results:
        lines = ["", printable(f"{r.name} {r.version} on Python {r.python} ({r.interpreter}): {r.status}")]
        add = lambda text: lines.append(printable(text))  # noqa: E731 - every line made printable
        if r.message:
            add(f"  why:        {r.message}")
        log = logs(r)
        if log:
            add(f"  log:        {log}")
        for number, build in enumerate(r.builds, 1):
            add(f"  build {number}:    {build.sha256 or '(no wheel)'}  {build.seconds:.1f}s")
            if build.path:
                add(f"    wheel:    {shown_path(build.path)}")
            if build.log:
                add(f"    log:      {shown_path(build.log)}")
        if r.differences:
            add("  differs:")
            lines += difference_lines(r.differences, limit=8)
        if r.diffoscope:
            add(f"  diffoscope: {shown_path(r.diffoscope)}")
        if r.sensitive_to:
            add(f"  sensitive to: {', '.join(r.sensitive_to)}")
        if r.variation_differences:  # the all-variations build against the controlled wheel
            add("  differs under variations:")
            lines += difference_lines(r.variation_differences, limit=6)
        if upstream and r.upstream:
            lines += upstream_lines(r.upstream)
        if r.environment:
            add(f"  environment: {r.environment.fingerprint[:16]} ({shown_path(r.environment.path)})")
        if r.isolation:
            sandboxed = r.isolation.sandbox if r.isolation.sandbox != "none" else "UNSANDBOXED"
            add(f"  isolation:  {sandboxed}, {'offline' if r.isolation.offline else 'network available'}")
        add(f"  reproduce:  {r.reproduce}")
        again = rederive(r)
        if again:
            add(f"  re-derive:  {again}")
        yield "\n".join(lines)
