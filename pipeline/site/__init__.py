"""The static site: matrix, project pages, trend, badges, JSON API and feed, from every recorded attempt."""

from __future__ import annotations

from ..cli.render import load_results, main_render
from .data import RunSummary
from .render import SiteSummary, render_site

__all__ = ["RunSummary", "SiteSummary", "load_results", "main_render", "render_site"]
