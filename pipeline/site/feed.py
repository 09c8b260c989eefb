"""The Atom feed (RFC 4287) of verdict changes: one entry per regression, fix or other change."""

from __future__ import annotations

from typing import Callable, Sequence
from urllib.parse import quote

from markupsafe import escape

from ..records import VERIFIABLE, sortable_utc
from .data import Change

#: a feed reader needs recent changes, not all of history (the JSON API has all of it)
MAX_ENTRIES = 200
FEED_ID = "urn:reproducible-wheels:changes"


def entry_title(change: Change) -> str:
    before = change.before
    after = change.after
    was = f"{before.status} in {before.version}" if before else "not checked"
    return f"{change.kind}: {change.name} {after.version} on {change.interpreter} is {after.status} (was {was})"


def entry_summary(change: Change) -> str:
    after = change.after
    lines = [entry_title(change) + "."]
    causes = sorted({d.cause for d in after.differences if d.cause})
    if causes:
        lines.append("Causes: " + ", ".join(causes) + ".")
    if after.differences:
        lines.append(f"{len(after.differences)} difference(s) between the two builds.")
    if after.sensitive_to:
        lines.append("Sensitive to: " + ", ".join(after.sensitive_to) + ".")
    if after.message:
        lines.append(after.message)
    if after.status in VERIFIABLE and after.environment is not None:
        lines.append("Re-derive it from its record (its exact Python, locks and sdist): the command is on its page.")
    else:
        lines.append(f"Reproduce with: {after.reproduce}")
    return "\n".join(lines)


def atom_time(text: str) -> str:
    """Atom wants RFC 3339; drop the microseconds our sortable form carries."""
    moment = sortable_utc(text)
    return moment[:19] + "Z" if moment else "1970-01-01T00:00:00Z"


def render_feed(changes: Sequence[Change], *, generated: str, link: Callable[[Change], str]) -> str:
    """``changes`` newest first; ``link`` gives each entry's page, relative to the feed."""
    shown = list(changes[:MAX_ENTRIES])
    updated = atom_time(shown[0].after.finished) if shown else atom_time(generated)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        "<title>Reproducible wheels: verdict changes</title>",
        f"<id>{FEED_ID}</id>",
        f"<updated>{updated}</updated>",
        '<link rel="alternate" type="text/html" href="index.html"/>',
        '<link rel="self" type="application/atom+xml" href="feed.xml"/>',
        "<author><name>reproducible wheels tracker</name></author>",
    ]
    for change in shown:
        after = change.after
        parts = (change.name, change.interpreter, after.version, sortable_utc(after.finished), after.status)
        entry_id = escape(FEED_ID + ":" + ":".join(quote(p, safe=".-_+!") for p in parts))
        out += [
            "<entry>",
            f"<id>{entry_id}</id>",
            f"<title>{escape(entry_title(change))}</title>",
            f"<updated>{atom_time(after.finished)}</updated>",
            f'<link rel="alternate" type="text/html" href="{escape(link(change))}"/>',
            f'<category term="{escape(change.kind)}"/>',
            f'<summary type="text">{escape(entry_summary(change))}</summary>',
            "</entry>",
        ]
    out.append("</feed>")
    return "\n".join(out) + "\n"
