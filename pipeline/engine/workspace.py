"""Where everything generated lives: out/ and the fixed build root."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .sandbox import FRESH_ROOTS

#: builds happen at /tmp/wheelrepro/<interpreter>/<name>-<version>, the same path every time
BUILD_ROOT = Path("/tmp/wheelrepro")
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
    def pip_cache(self) -> Path:
        return self.out / "cache" / "pip"

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
        return root / tag / f"{name}-{version}"


def reachable_by_builds(path: Path) -> None:
    """Builds run as an unprivileged uid that must reach the venvs under ``path``; say so when it cannot."""
    path.mkdir(parents=True, exist_ok=True)
    for folder in (path, *path.parents):
        if str(folder).startswith(tuple(root + "/" for root in FRESH_ROOTS)):
            continue  # the sandbox makes these parents itself, searchable
        if not folder.stat().st_mode & stat.S_IXOTH:
            raise UsageError(
                f"{folder} is not searchable by other users (mode {stat.S_IMODE(folder.stat().st_mode):o}), so the "
                f"sandboxed build user cannot reach {path}; choose another --out or `chmod o+x {folder}`"
            )
    os.chmod(path, 0o755)
