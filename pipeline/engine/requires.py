"""Requires-Python: whether a release admits an interpreter, and reading it from an sdist's PKG-INFO.

The index says it first (PEP 503 ``data-requires-python``, PEP 691 ``requires-python``); an index
that does not is answered by the sdist's own PKG-INFO, read from the archive without unpacking it
(the sdist is hostile: one member, capped, never written anywhere).
"""

from __future__ import annotations

import email.parser
import tarfile
import zipfile
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

#: PKG-INFO is a few KiB; anything bigger is not read
MAX_PKG_INFO = 1024 * 1024
#: a Requires-Python longer than this is not a specifier anyone wrote by hand
MAX_SPECIFIER = 200
#: members looked at for PKG-INFO before giving up (a tar is read in order)
MAX_MEMBERS = 100_000


def admits(spec: str | None, python: str) -> bool:
    """Whether interpreter ``python`` (X.Y.Z) satisfies ``spec``.

    No specifier, or one that does not parse, admits every interpreter: pip does the same.  Like
    pip, only X.Y.Z counts: a 3.14.0rc1 interpreter is 3.14.0.
    """
    if not spec or not spec.strip():
        return True
    try:
        release = Version(".".join(str(part) for part in Version(python).release[:3]))
        return SpecifierSet(spec).contains(release, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return True


def exclusion(spec: str | None, python: str) -> str:
    """Why a release does not apply to ``python`` ("requires Python >=3.10"), or "" when it does."""
    if admits(spec, python):
        return ""
    return f"requires Python {' '.join((spec or '').split())} (this interpreter is {python})"


def clean(value: object) -> str | None:
    """An index's or PKG-INFO's Requires-Python as text, or None when there is none worth keeping."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text[:MAX_SPECIFIER] if text else None


def _parse(raw: bytes) -> str:
    headers = email.parser.BytesHeaderParser().parsebytes(raw)
    return clean(headers.get("Requires-Python")) or ""


def _is_top_pkg_info(name: str) -> bool:
    parts = name.replace("\\", "/").strip("/").split("/")
    return len(parts) == 2 and parts[1] == "PKG-INFO" and parts[0] not in ("", ".", "..")


def read_requires_python(sdist: Path) -> str | None:
    """Requires-Python from ``<top>/PKG-INFO`` in the sdist: the specifier, "" when PKG-INFO declares
    none, None when there is no readable PKG-INFO (the build will say what is wrong with the file)."""
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                for info in archive.infolist()[:MAX_MEMBERS]:
                    if _is_top_pkg_info(info.filename) and not info.is_dir():
                        if info.file_size > MAX_PKG_INFO:
                            return None
                        with archive.open(info) as handle:
                            return _parse(handle.read(MAX_PKG_INFO))
            return None
        with tarfile.open(sdist, "r:*") as archive:
            for count, member in enumerate(archive):
                if count >= MAX_MEMBERS:
                    return None
                if _is_top_pkg_info(member.name) and member.isfile():
                    if member.size > MAX_PKG_INFO:
                        return None
                    handle = archive.extractfile(member)
                    return _parse(handle.read(MAX_PKG_INFO)) if handle else None
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, ValueError):
        return None
    return None
