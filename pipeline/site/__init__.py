"""The static site: matrix, project pages, trend, badges, JSON API and feed, from every recorded attempt."""

from __future__ import annotations

from .render import SiteSummary, render_site

__all__ = ["SiteSummary", "render_site"]
