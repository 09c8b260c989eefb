"""Compare two builds: equal sha256 means reproducible (pipeline.explain says why when not)."""

from __future__ import annotations

from ..records import Build


def same_wheel(first: Build, second: Build) -> bool:
    return first.sha256 is not None and first.sha256 == second.sha256
