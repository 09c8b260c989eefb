"""Where everything generated lives on the host: out/ (builds never see it; see layout for their paths)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import layout

#: the in-sandbox parent of every build tree (builds happen at <root>/<interpreter>/<name>-<version>)
BUILD_ROOT = layout.BUILD_ROOT
#: constant for every build: the earliest time a zip can store (1980-01-01T00:00:00Z)
SOURCE_DATE_EPOCH = "315532800"


@dataclass(frozen=True)
class Workspace:
    out: Path

    @property
    def sdists(self) -> Path:
        return self.out / "cache" / "sdists"

    @property
    def wheels_cache(self) -> Path:
        return self.out / "cache" / "wheels"

    @property
    def http_cache(self) -> Path:
        return self.out / "cache" / "http"

    @property
    def interpreters(self) -> Path:
        """Each interpreter's sysconfig data rewritten for its constant prefix."""
        return self.out / "cache" / "interpreters"

    @property
    def crates(self) -> Path:
        """Rust crates an sdist locks, fetched once per sdist (root's; builds see them read-only)."""
        return self.out / "cache" / "cargo"

    @property
    def built(self) -> Path:
        """Wheels of build requirements that publish only an sdist, built offline, kept by digest."""
        return self.out / "cache" / "built"

    @property
    def scratch(self) -> Path:
        """Short-lived copies (normalised wheels), removed after use."""
        return self.out / "cache" / "scratch"

    @property
    def envs(self) -> Path:
        return self.out / "envs"

    @property
    def locks(self) -> Path:
        return self.out / "locks"

    def result_dir(self, name: str, version: str, tag: str) -> Path:
        """Kept wheels and logs of one (project, version, interpreter)."""
        return self.out / "builds" / name / version / tag

    def build_dir(self, name: str, version: str, tag: str, root: Path = BUILD_ROOT) -> Path:
        """The build tree's path inside the sandbox: the same for every build of the release."""
        return layout.build_dir(name, version, tag, root)
