"""Text for people: the results table and the per-result details (pure functions)."""

from __future__ import annotations

from typing import Iterable, Sequence

from ..explain import format_differences
from ..records import Agreement, Result, Upstream

ICONS = {
    "reproducible": "ok ",
    "unreproducible": "DIFF",
    "build-failed": "FAIL",
    "timeout": "TIME",
    "no-sdist": "----",
    "not-applicable": "n/a ",
    "error": "ERR ",
}


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def table(results: Sequence[Result]) -> str:
    headers = ("package", "version", "python", "status", "build 1", "build 2", "environment")
    rows = [headers]
    for r in results:
        shas = [b.sha256 for b in r.builds[:2]] + [None, None]
        rows.append((r.name, r.version, r.python, f"{ICONS[r.status]} {r.status}", _short(shas[0]),
                     _short(shas[1]), r.environment.fingerprint[:12] if r.environment else "-"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n" + "\n".join(lines)


def upstream_lines(upstream: Upstream, limit: int = 5) -> list[str]:
    """The index's wheel against the rebuild: status, note, and the first few differing members."""
    lines = [f"  vs the index's wheel: {upstream.status} {upstream.note}".rstrip()]
    if upstream.wheel:
        lines.append(f"    wheel:    {upstream.wheel}  {_short(upstream.sha256)}")
    lines += [f"    {line}" for line in format_differences(upstream.differences, limit=limit)]
    return lines


def agreement_lines(agreement: Agreement, limit: int = 5) -> list[str]:
    """Whether every interpreter built the release's pure wheel to the same bytes, and why not."""
    if agreement.status == "same":
        return [f"  across Pythons: the same wheel on {', '.join(agreement.wheels)}"]
    lines = ["  across Pythons: the wheels differ"]
    by_sha: dict[str, list[str]] = {}
    for tag, sha in agreement.wheels.items():
        by_sha.setdefault(sha, []).append(tag)
    lines += [f"    {_short(sha)} on {', '.join(tags)}" for sha, tags in by_sha.items()]
    lines += [f"    why: {reason}" for reason in agreement.reasons]
    lines += [f"    {line}" for line in format_differences(agreement.differences, limit=limit)]
    return lines


def details(results: Iterable[Result]) -> Iterable[str]:
    told: set[tuple[str, str]] = set()  # a release's agreement is said once, under its first result
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
        if r.agreement and (r.name, r.version) not in told:
            told.add((r.name, r.version))
            lines.extend(agreement_lines(r.agreement))
        if r.environment:
            lines.append(f"  environment: {r.environment.fingerprint[:16]} ({r.environment.path})")
        if r.isolation:
            sandboxed = r.isolation.sandbox if r.isolation.sandbox != "none" else "UNSANDBOXED"
            lines.append(f"  isolation:  {sandboxed}, {'offline' if r.isolation.offline else 'network available'}")
        lines.append(f"  reproduce:  {r.reproduce}")
        yield "\n".join(lines)
