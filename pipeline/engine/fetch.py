"""Download into a content-addressed store keyed by sha256; a file that fails its digest is refused."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import DigestMismatch, UsageError
from .net import Client
from ..records import Artifact


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def store_path(store: Path, sha256: str, filename: str) -> Path:
    if "/" in filename or filename in ("", ".", ".."):
        raise UsageError(f"refusing a file name with a path in it: {filename!r}")
    return store / sha256[:2] / sha256 / filename


def fetch_artifact(client: Client, artifact: Artifact, store: Path) -> Path:
    """The artifact's bytes in the store, verified against the digest the index published."""
    if artifact.sha256:
        cached = store_path(store, artifact.sha256, artifact.filename)
        if cached.is_file() and sha256_of(cached) == artifact.sha256:
            return cached
    staging = store / "incoming"
    staging.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=staging, prefix=".dl-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        actual = client.download(artifact.url, tmp)
        if artifact.sha256 and actual != artifact.sha256:
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
