"""Unpack an sdist safely: every member checked before anything is written."""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

from ..errors import UnsafeArchive

MAX_MEMBERS = 100_000
MAX_UNPACKED = 4 * 1024**3


def _check_name(archive: str, name: str) -> str:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(archive, name, "has an absolute path")
    normal = posixpath.normpath(name.replace("\\", "/"))
    if normal == ".." or normal.startswith("../") or "\0" in name:
        raise UnsafeArchive(archive, name, "points outside the archive's folder")
    return normal


def check_tar(archive: str, members: list[tarfile.TarInfo]) -> str:
    """The archive's one top folder, once every member is checked; :class:`UnsafeArchive` otherwise."""
    if len(members) > MAX_MEMBERS:
        raise UnsafeArchive(archive, "*", f"has {len(members)} members")
    total = 0
    tops = set()
    for member in members:
        normal = _check_name(archive, member.name)
        tops.add(normal.split("/", 1)[0])
        if member.issym() or member.islnk():
            target = member.linkname
            if target.startswith("/"):
                raise UnsafeArchive(archive, member.name, f"is a link to the absolute path {target}")
            base = posixpath.dirname(normal) if member.issym() else ""
            resolved = posixpath.normpath(posixpath.join(base, target))
            if resolved == ".." or resolved.startswith("../"):
                raise UnsafeArchive(archive, member.name, f"is a link out of the folder ({target})")
        elif not (member.isfile() or member.isdir()):
            raise UnsafeArchive(archive, member.name, "is a device, fifo or other special file")
        total += max(member.size, 0)
    if total > MAX_UNPACKED:
        raise UnsafeArchive(archive, "*", f"unpacks to {total} bytes, over the {MAX_UNPACKED} cap")
    return _single_top(archive, tops)


def check_zip(archive: str, infos: list[zipfile.ZipInfo]) -> str:
    """:func:`check_tar` for a zip sdist (a zip member can only be a file, a folder or a link)."""
    if len(infos) > MAX_MEMBERS:
        raise UnsafeArchive(archive, "*", f"has {len(infos)} members")
    tops, total = set(), 0
    for info in infos:
        tops.add(_check_name(archive, info.filename).split("/", 1)[0])
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchive(archive, info.filename, "is a link")
        total += info.file_size
    if total > MAX_UNPACKED:
        raise UnsafeArchive(archive, "*", f"unpacks to {total} bytes, over the {MAX_UNPACKED} cap")
    return _single_top(archive, tops)


def _single_top(archive: str, tops: set[str]) -> str:
    tops.discard(".")
    if len(tops) != 1:
        raise UnsafeArchive(archive, ",".join(sorted(tops))[:80], "is not under one top-level folder, as an sdist must be")
    return tops.pop()


def unpack_sdist(archive: Path, dest_parent: Path) -> Path:
    """Unpack into ``dest_parent``; return the sdist's top folder (its project root).

    A hostile archive raises :class:`UnsafeArchive` before anything is written.
    """
    name = archive.name
    dest_parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            top = check_zip(name, zf.infolist())
            zf.extractall(dest_parent)
    else:
        try:
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                top = check_tar(name, members)
                tf.extractall(dest_parent, members=members, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            if isinstance(exc, tarfile.FilterError):
                raise UnsafeArchive(name, getattr(exc, "tarinfo", None) and exc.tarinfo.name or "?", str(exc)) from None
            raise UnsafeArchive(name, "*", f"is not a readable tar archive ({exc})") from None
    root = dest_parent / top
    if not root.is_dir() or not ((root / "pyproject.toml").is_file() or (root / "setup.py").is_file()):
        raise UnsafeArchive(name, top, "has neither pyproject.toml nor setup.py: not an sdist")
    return root


def fresh_dir(path: Path) -> Path:
    """An empty folder at exactly ``path`` (the fixed build directory)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o755)
    os.chmod(path, 0o755)
    return path
