"""What a check is asked to do: where packages come from, the limits, the sandbox, the extra checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .environments import PipSource
from ..records import PYPI_SIMPLE
from .sandbox import GiB


@dataclass(frozen=True)
class CheckOptions:
    out: Path = Path("out")
    index_url: str = PYPI_SIMPLE
    find_links: tuple[str, ...] = ()
    timeout: float = 1800.0
    memory: int = 8 * GiB
    unsandboxed: bool = False
    vary: bool = False  # the strict check: variation builds after a reproducible pair (pipeline.vary)
    upstream: bool = True  # compare with the index's own wheel (only for releases from an index)
    sequential: bool = False  # the two controlled builds one after the other, not at once (engine.pair)

    def pip_source(self) -> PipSource:
        links = tuple(str(Path(link).resolve()) if Path(link).exists() else link for link in self.find_links)
        return PipSource(index_url=self.index_url, find_links=links)
