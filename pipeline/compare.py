"""Compare two builds: equal sha256 means reproducible; otherwise name the members that differ."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from .records import Build, Difference


def _member_digests(wheel: Path) -> dict[str, str]:
    digests = {}
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            digest = hashlib.sha256()
            with zf.open(info) as member:
                for chunk in iter(lambda: member.read(1 << 20), b""):
                    digest.update(chunk)
            digests[info.filename] = digest.hexdigest()
    return digests


def differing_members(a: Path, b: Path) -> tuple[Difference, ...]:
    """Members added, removed or with different bytes; zip metadata when the bytes all agree."""
    left, right = _member_digests(a), _member_digests(b)
    out = []
    for path in sorted(left.keys() | right.keys()):
        if path not in right:
            out.append(Difference(path, "removed", "only in the first wheel"))
        elif path not in left:
            out.append(Difference(path, "added", "only in the second wheel"))
        elif left[path] != right[path]:
            out.append(Difference(path, "content", "bytes differ"))
    if not out:
        out.append(Difference("", "zip-metadata", "every member's bytes agree; the archives differ in zip metadata"))
    return tuple(out)


def same_wheel(first: Build, second: Build) -> bool:
    return first.sha256 is not None and first.sha256 == second.sha256
