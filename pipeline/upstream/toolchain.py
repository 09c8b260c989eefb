"""Resolve build requirements as they stood at a moment: uv, wheels only, in the sandbox.

:func:`resolve_lock` is the one call: requirement strings in, exact hashed lock lines out, every
file uploaded before ``cutoff`` except the pinned backend (its pin is the point).  uv runs as the
build uid in the sandbox with the network on, ``--no-build`` (so no package code runs, and an
sdist-only requirement is an error rather than a silent build), no managed Pythons, the
machine's CA bundle, and a private cache that is deleted afterwards.  ``--find-links`` folders
are not passed: their files carry no upload time, so ``--exclude-newer`` could not cut them off.

The resolving is the provisioner's (:meth:`pipeline.engine.provision.Provisioner.resolve`), the one
resolver of the tool; this module asks it for a cutoff and turns "no solution" into ``not-inferred``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import subprocess
from pathlib import Path


from ..engine import programs, sandbox
from ..engine.interpreters import Interpreter
from ..engine.provision import Provisioner
from ..errors import BuildRequirementsFailed, NotInferred, SdistOnlyRequirements


@functools.lru_cache(maxsize=4)
def uv_version(binary: Path) -> str:
    """``uv 0.13.9`` (what the record names as the resolver); uv runs no package code for this."""
    try:
        out = programs.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "uv"
    return " ".join(out.split()[:2]) or "uv"


def cutoff_stamp(moment: str) -> str:
    """An upload time as the RFC 3339 UTC stamp uv takes (``2025-03-05T19:51:37.123456Z``)."""
    parsed = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _why_unresolvable(text: str) -> str:
    """uv's ``cause:`` and ``hint:`` lines, joined into one."""
    lines = [line.strip() for line in text.splitlines()]
    found = [line for line in lines if line.startswith(("cause:", "hint:", "╰─▶", "error:"))
             and not line.startswith("error: No solution found")]
    reason = " ".join(found) or "uv found no solution"
    return re.sub(r"\s+", " ", reason)[:600]


def resolve_lock(requirements: tuple[str, ...], *, cutoff: str, pinned: tuple[str, ...], interpreter: Interpreter,
                 provisioner: Provisioner, log: Path, uid: int = sandbox.BUILD_UID) -> tuple[str, ...]:
    """Exact, hashed lock lines for ``requirements`` as the index stood at ``cutoff``.

    ``pinned`` names projects exempt from the cutoff (the backend pinned to the Generator's
    version).  NotInferred when no solution exists (a requirement gone from the index, a pin the
    sdist's requirements exclude, only an sdist); EnvironmentFailed when the index cannot be reached.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    start = log.stat().st_size if log.exists() else 0
    try:
        return provisioner.resolve(interpreter, list(requirements), log, uid, exclude_newer=cutoff_stamp(cutoff),
                                   exempt=pinned, index_only=True)
    except (BuildRequirementsFailed, SdistOnlyRequirements):
        text = log.read_bytes()[start:].decode("utf-8", "replace")
        raise NotInferred(f"the inferred toolchain cannot be resolved: {_why_unresolvable(text)}") from None
