"""Download into a content-addressed store keyed by sha256; a file that fails its digest is refused.

So is a file whose index entry resolve refused (no sha256 among the reasons) and one over the
download cap: each is an ``IndexRefused``, never a half-used file.  A file with no digest to check
(an sdist URL given on the command line) is kept under the digest it turns out to have.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

from ..errors import DigestMismatch, IndexRefused, UsageError
from .net import Client, size_text
from ..records import Artifact

_SHA256 = re.compile(r"[0-9a-f]{64}", re.IGNORECASE)


def is_sha256(text: str) -> bool:
    return bool(_SHA256.fullmatch(text))


def filename_problem(filename: object) -> str | None:
    """Why a file name (from an index, or a local file) cannot name a file in the store, or None."""
    if not isinstance(filename, str) or not filename:
        return "the entry has no file name"
    if len(filename) > 255:
        return "its file name is longer than 255 characters"
    if "/" in filename or "\\" in filename or filename in (".", ".."):
        return "its file name has a path in it"
    if any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") for c in filename):
        return "its file name has control or unprintable characters"
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def store_path(store: Path, sha256: str, filename: str) -> Path:
    problem = filename_problem(filename)
    if problem:
        raise UsageError(f"refusing the file name {filename!r}: {problem}")
    if not is_sha256(sha256):
        raise UsageError(f"refusing {filename!r}: {sha256[:80]!r} is not a sha256")
    return store / sha256[:2] / sha256 / filename


def fetch_artifact(client: Client, artifact: Artifact, store: Path) -> Path:
    """The artifact's bytes in the store, verified against the digest the index published.

    Raises IndexRefused, before anything is downloaded, for an entry resolve refused or a file the
    index says is over the download cap; and while downloading when it turns out larger.
    """
    if artifact.refused:
        raise IndexRefused(artifact.filename, artifact.refused)
    if artifact.sha256:
        cached = store_path(store, artifact.sha256, artifact.filename)
        if cached.is_file() and sha256_of(cached) == artifact.sha256:
            return cached
    cap = client.caps.download_bytes
    if artifact.size is not None and artifact.size > cap:
        raise IndexRefused(artifact.filename, f"the index says it is {artifact.size} bytes, over the {size_text(cap)} cap")
    staging = store / "incoming"
    staging.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=staging, prefix=".dl-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        actual = client.download(artifact.url, tmp)
        if artifact.sha256 and actual != artifact.sha256.lower():
            raise DigestMismatch(artifact.filename, artifact.sha256, actual)
        final = store_path(store, actual, artifact.filename)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        return final
    finally:
        if tmp.exists():
            tmp.unlink()


def add_local(path: Path, store: Path) -> tuple[Path, str]:
    """Copy a local file into the store; returns (stored path, sha256)."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    digest = sha256_of(path)
    final = store_path(store, digest, path.name)
    if not final.is_file():
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".cp-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, final)
    return final, digest
