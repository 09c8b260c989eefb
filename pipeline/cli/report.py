"""Text for people: the results table and the per-result details (pure functions)."""

from __future__ import annotations

from typing import Iterable, Sequence

from ..explain import format_differences
from ..records import Result, Toolchain, Upstream

ICONS = {
    "reproducible": "ok ",
    "unreproducible": "DIFF",
    "build-failed": "FAIL",
    "timeout": "TIME",
    "no-sdist": "----",
    "error": "ERR ",
}


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def table(results: Sequence[Result]) -> str:
    headers = ("package", "version", "python", "status", "build 1", "build 2", "environment", "pypi")
    rows = [headers]
    for r in results:
        shas = [b.sha256 for b in r.builds[:2]] + [None, None]
        rows.append((r.name, r.version, r.python, f"{ICONS[r.status]} {r.status}", _short(shas[0]),
                     _short(shas[1]), r.environment.fingerprint[:12] if r.environment else "-", pypi_cell(r.upstream)))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if any(pypi_cell(r.upstream).endswith("*") for r in results):
        lines.append(NOT_MATCHED_FOOTNOTE)
    return "\n" + "\n".join(lines)


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
        if chain.build and chain.build.log:
            lines.append(f"      log: {chain.build.log}")
    lines += [f"      note: {note}" for note in chain.notes]
    return lines


def upstream_lines(upstream: Upstream, limit: int = 5) -> list[str]:
    """The index's wheel against the rebuild: status, note, and the first few differing members."""
    lines = [f"  vs the index's wheel: {upstream.status} {upstream.note}".rstrip()]
    if upstream.wheel:
        lines.append(f"    wheel:    {upstream.wheel}  {_short(upstream.sha256)}")
    if upstream.toolchain:
        lines.extend(toolchain_lines(upstream.toolchain))
    lines += [f"    {line}" for line in format_differences(upstream.differences, limit=limit)]
    return lines


def details(results: Iterable[Result]) -> Iterable[str]:
    for r in results:
        lines = [f"\n{r.name} {r.version} on Python {r.python} ({r.interpreter}): {r.status}"]
        if r.message:
            lines.append(f"  why:        {r.message}")
        for number, build in enumerate(r.builds, 1):
            lines.append(f"  build {number}:    {build.sha256 or '(no wheel)'}  {build.seconds:.1f}s")
            if build.path:
                lines.append(f"    wheel:    {build.path}")
            if build.log:
                lines.append(f"    log:      {build.log}")
        if r.differences:
            lines.append("  differs:")
            lines += [f"    {line}" for line in format_differences(r.differences, limit=8)]
        if r.diffoscope:
            lines.append(f"  diffoscope: {r.diffoscope}")
        if r.sensitive_to:
            lines.append(f"  sensitive to: {', '.join(r.sensitive_to)}")
        if r.variation_differences:  # the all-variations build against the controlled wheel
            lines.append("  differs under variations:")
            lines += [f"    {line}" for line in format_differences(r.variation_differences, limit=6)]
        if r.upstream:
            lines.extend(upstream_lines(r.upstream))
        if r.environment:
            lines.append(f"  environment: {r.environment.fingerprint[:16]} ({r.environment.path})")
        if r.isolation:
            sandboxed = r.isolation.sandbox if r.isolation.sandbox != "none" else "UNSANDBOXED"
            lines.append(f"  isolation:  {sandboxed}, {'offline' if r.isolation.offline else 'network available'}")
        lines.append(f"  reproduce:  {r.reproduce}")
        yield "\n".join(lines)
