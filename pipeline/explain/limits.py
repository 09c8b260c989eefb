"""Caps on what a hostile wheel can make us read: members, central directory, inflated bytes, ratio.

A wheel is a stranger's zip, built in the sandbox or published by an index.  zipfile parses the
whole central directory when it opens an archive, and inflates a member only up to the size the
directory declares for it (then checks the CRC), so checks made on the directory alone, before a
byte is inflated, bound the work: how many members, how many bytes they inflate to in all, and how
many bytes each inflates to per stored byte (a zip bomb's 1 GiB of zeros is 1 MiB stored).
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import WheelOverCap, WheelUnreadable

MiB = 1024**2
GiB = 1024**3

_EOCD = struct.Struct("<4s4H2LH")
_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_ENTRY = struct.Struct("<4s24xHHH12x")  # signature, then the name, extra and comment lengths
_MAX_COMMENT = 65535


@dataclass(frozen=True)
class ZipLimits:
    """What one wheel may cost.  The largest real wheels hold tens of thousands of members and
    inflate to a few GiB; deflate cannot compress real files 200:1, only runs of one byte."""

    members: int = 100_000
    directory: int = 64 * MiB  # central directory bytes
    inflated: int = 4 * GiB  # the members' declared sizes, added up
    ratio: int = 200  # declared size per stored byte, for members inflating past ratio_floor
    ratio_floor: int = 1 * MiB


ZIP_LIMITS = ZipLimits()


def _size(n: int) -> str:
    return f"{n // GiB} GiB" if n % GiB == 0 else f"{n // MiB} MiB" if n % MiB == 0 else f"{n:,} bytes"


def _directory(path: Path) -> tuple[int, int]:
    """(offset, size) of the central directory, found as zipfile finds it (the end record last)."""
    with open(path, "rb") as handle:
        end = handle.seek(0, 2)
        tail_start = max(0, end - _EOCD.size - _MAX_COMMENT)
        handle.seek(tail_start)
        tail = handle.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + _EOCD.size > len(tail):
            raise WheelUnreadable(str(path), "not a zip archive (no end of central directory)")
        size, offset = _EOCD.unpack_from(tail, at)[5:7]
        record = tail_start + at
        if record >= _LOCATOR.size + _EOCD64.size:
            handle.seek(record - _LOCATOR.size)
            if handle.read(4) == b"PK\x06\x07":
                handle.seek(record - _LOCATOR.size - _EOCD64.size)
                zip64 = handle.read(_EOCD64.size)
                if len(zip64) == _EOCD64.size and zip64[:4] == b"PK\x06\x06":
                    size = _EOCD64.unpack(zip64)[8]
                    record -= _LOCATOR.size + _EOCD64.size
    if size > record:
        raise WheelUnreadable(str(path), "not a zip archive (its central directory runs past the start)")
    return record - size, size


def count_members(path: Path, limits: ZipLimits = ZIP_LIMITS) -> int:
    """How many members the central directory lists, counted without building zipfile's objects.

    Raises WheelOverCap past ``limits.members`` or ``limits.directory`` (a directory of 200,000
    empty members would cost zipfile a second and 200 MB), WheelUnreadable when it is not a zip.
    """
    path = Path(path)
    try:
        offset, size = _directory(path)
        if size > limits.directory:
            raise WheelOverCap(str(path), f"a central directory of {size:,} bytes, over the {_size(limits.directory)} cap")
        with open(path, "rb") as handle:
            handle.seek(offset)
            directory = handle.read(size)
    except OSError as error:
        raise WheelUnreadable(str(path), error.strerror or str(error)) from None
    count = position = 0
    while position + _ENTRY.size <= len(directory):
        signature, name, extra, comment = _ENTRY.unpack_from(directory, position)
        if signature != b"PK\x01\x02":
            break  # zipfile decides what a damaged directory means
        count += 1
        if count > limits.members:
            raise WheelOverCap(str(path), f"more than {limits.members:,} members, the cap")
        position += _ENTRY.size + name + extra + comment
    return count


def member_problem(name: str, file_size: int, compress_size: int, limits: ZipLimits = ZIP_LIMITS) -> str | None:
    """Why one member may not be inflated (its compression ratio is a bomb's), or None."""
    if file_size <= limits.ratio_floor or file_size <= limits.ratio * max(compress_size, 1):
        return None
    ratio = file_size // max(compress_size, 1)
    return (f"member {name} inflates to {file_size:,} bytes from {compress_size:,} stored, {ratio:,}:1, "
            f"over the {limits.ratio}:1 cap")


def total_problem(infos: Iterable[zipfile.ZipInfo], limits: ZipLimits = ZIP_LIMITS) -> str | None:
    """Why the whole archive may not be inflated (its members add up past the cap), or None."""
    total = sum(info.file_size for info in infos)
    if total > limits.inflated:
        return f"{total:,} bytes inflated in all, over the {_size(limits.inflated)} cap"
    return None


def open_zip(path: Path, limits: ZipLimits = ZIP_LIMITS) -> zipfile.ZipFile:
    """The archive, opened once its directory is within the caps on members, size and total.

    Raises WheelOverCap (a WheelUnreadable) over a cap, WheelUnreadable when it is not a zip.
    Members over the ratio cap are the caller's to skip (:func:`member_problem`).
    """
    path = Path(path)
    count_members(path, limits)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise WheelUnreadable(str(path), f"not a zip archive ({error})") from None
    problem = total_problem(archive.infolist(), limits)
    if problem:
        archive.close()
        raise WheelOverCap(str(path), problem)
    return archive
