"""Per-project badges: a static SVG and a shields.io endpoint JSON, from the same numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from markupsafe import escape

from .data import Cell

LABEL = "reproducible"
#: white text on these meets WCAG AA (>= 4.5:1); shields.io accepts the same hex colours
COLOURS = {"all": "1a7f37", "some": "9a6700", "none": "cf222e", "unknown": "57606a"}


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    colour: str  # hex, without '#'

    def endpoint(self) -> dict[str, Any]:
        """The shields.io endpoint schema (https://shields.io/badges/endpoint-badge)."""
        return {"schemaVersion": 1, "label": self.label, "message": self.message, "color": self.colour}


def badge_for(cells: Mapping[str, Cell]) -> Badge:
    """"reproducible R/V Pythons" over the interpreters with a verdict; errors do not count."""
    verdicts = [c.verdict for c in cells.values() if c.verdict is not None]
    if not verdicts:
        return Badge(LABEL, "not checked yet", COLOURS["unknown"])
    good = sum(1 for v in verdicts if v.status == "reproducible")
    noun = "Python" if len(verdicts) == 1 else "Pythons"
    grade = "all" if good == len(verdicts) else ("some" if good else "none")
    return Badge(LABEL, f"{good}/{len(verdicts)} {noun}", COLOURS[grade])


# Approximate advance widths of 11px Verdana, enough to size the badge boxes without a font.
_NARROW = set("fijlrtI1.,:;'|!()[] ")
_WIDE = set("mwMW@%")


def text_width(text: str) -> float:
    width = 0.0
    for char in text:
        if char in _NARROW:
            width += 3.9
        elif char in _WIDE:
            width += 10.0
        elif char.isupper() or char.isdigit() or char in "/#&":
            width += 7.0
        else:
            width += 6.6
    return round(width, 1)


def badge_svg(badge: Badge) -> str:
    left = round(text_width(badge.label) + 12)
    right = round(text_width(badge.message) + 12)
    total = left + right
    label = escape(badge.label)
    message = escape(badge.message)
    title = escape(f"{badge.label}: {badge.message}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        f'<rect width="{left}" height="20" fill="#3d444d"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="#{badge.colour}"/>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
        f'<text x="{left / 2:.1f}" y="14">{label}</text>'
        f'<text x="{left + right / 2:.1f}" y="14">{message}</text></g></svg>\n'
    )
