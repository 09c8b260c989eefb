"""The trend chart: an inline SVG drawn at render time, coloured by the page's CSS (dark mode too)."""

from __future__ import annotations

from typing import Sequence

from markupsafe import Markup, escape

from .data import TrendPoint

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 12, 30
#: above this many points, individual markers would only add bytes
MARKERS_UP_TO = 60


def describe(points: Sequence[TrendPoint]) -> str:
    """The chart in one sentence, for screen readers and for anyone who would rather read."""
    if not points:
        return "No verdicts yet, so no trend."
    first, last = points[0], points[-1]
    if len(points) == 1:
        return f"On {last.day}, {last.share:.1%} of {last.built} compared wheels were reproducible."
    return (
        f"Reproducible share of compared wheels: {first.share:.1%} on {first.day}, "
        f"{last.share:.1%} on {last.day} ({last.reproducible} of {last.built})."
    )


def trend_svg(points: Sequence[TrendPoint]) -> Markup:
    label = escape(describe(points))
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>'
    )
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [head]
    for pct in (0, 25, 50, 75, 100):
        y = TOP + plot_h * (1 - pct / 100)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{pct}%</text>'
        )
    if points:
        step = plot_w / (len(points) - 1) if len(points) > 1 else 0.0
        coords = [
            (LEFT + (i * step if len(points) > 1 else plot_w / 2), TOP + plot_h * (1 - p.share))
            for i, p in enumerate(points)
        ]
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline class="trend" points="{line}"/>')
        if len(points) <= MARKERS_UP_TO:
            for (x, y), point in zip(coords, points):
                tip = escape(f"{point.day}: {point.share:.1%} ({point.reproducible} of {point.built})")
                parts.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{tip}</title></circle>')
        baseline = HEIGHT - BOTTOM + 18
        parts.append(
            f'<text class="axis" x="{coords[0][0]:.1f}" y="{baseline}" text-anchor="start">{escape(points[0].day)}</text>'
        )
        if len(points) > 1:
            parts.append(
                f'<text class="axis" x="{coords[-1][0]:.1f}" y="{baseline}" text-anchor="end">'
                f"{escape(points[-1].day)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
