"""Zip-level comparison: which members differ, and how the archive metadata differs.

Member bytes are streamed (chunked sha256), one member of one wheel at a time, so comparing two
large wheels never holds either one's uncompressed content in memory.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Container, Iterable, Sequence

from ..errors import WheelUnreadable
from ..records import Difference
from .base import CHUNK
from .causes import Cause

#: up to this many members with the same kind of metadata difference are listed one by one;
#: more are folded into one archive-level difference (a wheel with 400 re-dated files is one fact)
GROUP_LIMIT = 3

_COMPRESSION_NAMES = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflated",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_LEVEL_BITS = 0b110  # general purpose flag bits 1-2: deflate level hint
_EXTRA_NAMES = {0x5455: "extended timestamp", 0x7875: "unix uid/gid", 0x000A: "NTFS times", 0x0001: "zip64"}
_TIME_EXTRAS = {0x5455, 0x000A, 0x5855}
#: what zipfile raises on a damaged or unsupported member (bad CRC, truncated stream, encryption)
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError)


@dataclass(frozen=True)
class Entry:
    """The central-directory facts about one member (no content)."""

    name: str
    index: int
    date_time: tuple[int, int, int, int, int, int]
    external_attr: int
    create_system: int
    compress_type: int
    compress_size: int
    file_size: int
    crc: int
    flag_bits: int
    create_version: int
    extract_version: int
    internal_attr: int
    extra: bytes
    comment: bytes

    @classmethod
    def from_info(cls, info: zipfile.ZipInfo, index: int) -> Entry:
        return cls(
            name=info.filename,
            index=index,
            date_time=tuple(info.date_time),  # type: ignore[arg-type]
            external_attr=info.external_attr,
            create_system=info.create_system,
            compress_type=info.compress_type,
            compress_size=info.compress_size,
            file_size=info.file_size,
            crc=info.CRC,
            flag_bits=info.flag_bits,
            create_version=info.create_version,
            extract_version=info.extract_version,
            internal_attr=info.internal_attr,
            extra=info.extra,
            comment=info.comment,
        )


def entries(archive: zipfile.ZipFile) -> tuple[dict[str, Entry], list[str]]:
    """Entries by name (the last of duplicates wins, as zipfile reads them) and duplicated names."""
    by_name: dict[str, Entry] = {}
    duplicates = []
    for index, info in enumerate(archive.infolist()):
        if info.filename in by_name:
            duplicates.append(info.filename)
        by_name[info.filename] = Entry.from_info(info, index)
    return by_name, duplicates


def member_digest(archive: zipfile.ZipFile, name: str) -> str:
    """sha256 of a member's uncompressed bytes, read in chunks (zipfile checks the CRC at the end)."""
    digest = hashlib.sha256()
    try:
        with archive.open(name) as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    except READ_ERRORS as error:
        raise WheelUnreadable(str(archive.filename), f"member {name}: {error}") from None
    return digest.hexdigest()


def _data_offset(stream: BinaryIO, info: zipfile.ZipInfo) -> int | None:
    stream.seek(info.header_offset)
    header = stream.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        return None
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    return info.header_offset + 30 + name_length + extra_length


def raw_equal(fa: BinaryIO, fb: BinaryIO, ia: zipfile.ZipInfo, ib: zipfile.ZipInfo) -> bool:
    """True when both members' stored (compressed) bytes are identical, compared in chunks.

    Same method + same stored bytes means the same content (decompression is deterministic), so
    most equal members are settled without inflating or hashing them.  False means "not proven".
    """
    if ia.compress_type != ib.compress_type or ia.compress_size != ib.compress_size:
        return False
    if (ia.flag_bits | ib.flag_bits) & 1:
        return False  # encrypted: the stored bytes say nothing
    start_a, start_b = _data_offset(fa, ia), _data_offset(fb, ib)
    if start_a is None or start_b is None:
        return False
    fa.seek(start_a)
    fb.seek(start_b)
    left = ia.compress_size
    while left > 0:
        size = min(CHUNK, left)
        ca, cb = fa.read(size), fb.read(size)
        if ca != cb or len(ca) != size:
            return False
        left -= size
    return True


def changed_members(a: zipfile.ZipFile, b: zipfile.ZipFile, ea: dict[str, Entry], eb: dict[str, Entry],
                    uninflated: Container[str] = ()) -> list[str]:
    """Names present in both whose uncompressed bytes differ, in A's order.

    Members named in ``uninflated`` (over a cap) are never inflated: equal stored bytes make them
    equal; otherwise they are listed as changed, for the caller to say they were not examined.
    """
    changed = []
    assert a.filename is not None and b.filename is not None
    with open(a.filename, "rb") as fa, open(b.filename, "rb") as fb:
        for name in sorted(ea.keys() & eb.keys(), key=lambda n: ea[n].index):
            x, y = ea[name], eb[name]
            if x.file_size != y.file_size or x.crc != y.crc:
                changed.append(name)  # certain without reading a byte
            elif raw_equal(fa, fb, a.getinfo(name), b.getinfo(name)):
                continue
            elif name in uninflated or member_digest(a, name) != member_digest(b, name):
                changed.append(name)
    return changed


def _stamp(t: tuple[int, ...]) -> str:
    return "{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}".format(*t)


def _mode(entry: Entry) -> str:
    if entry.create_system == 3:  # unix: st_mode in the high 16 bits
        return oct(entry.external_attr >> 16)
    return f"attr {entry.external_attr:#x} (system {entry.create_system})"


def _extras(data: bytes) -> dict[int, bytes]:
    fields: dict[int, bytes] = {}
    offset = 0
    while offset + 4 <= len(data):
        header_id, size = struct.unpack_from("<HH", data, offset)
        fields[header_id] = data[offset + 4 : offset + 4 + size]
        offset += 4 + size
    return fields


def _entry_facts(x: Entry, y: Entry, same_bytes: bool) -> Iterable[tuple[str, Cause, str]]:
    """(kind, cause, detail) for each metadata fact that differs between two entries of one member."""
    if x.date_time != y.date_time:
        yield "timestamp", "timestamp", f"{_stamp(x.date_time)} vs {_stamp(y.date_time)}"
    if x.external_attr != y.external_attr or x.create_system != y.create_system:
        yield "mode", "file_mode", f"{_mode(x)} vs {_mode(y)}"
    if x.compress_type != y.compress_type:
        names = (_COMPRESSION_NAMES.get(e.compress_type, str(e.compress_type)) for e in (x, y))
        yield "compression", "compression", "{} vs {}".format(*names)
    elif same_bytes and (x.compress_size != y.compress_size or (x.flag_bits ^ y.flag_bits) & _LEVEL_BITS):
        yield "compression", "compression", f"level differs: {x.compress_size} vs {y.compress_size} compressed bytes"
    if x.extra != y.extra:
        fa, fb = _extras(x.extra), _extras(y.extra)
        ids = sorted(i for i in fa.keys() | fb.keys() if fa.get(i) != fb.get(i))
        label = ", ".join(_EXTRA_NAMES.get(i, f"{i:#06x}") for i in ids) or "layout"
        cause: Cause = "timestamp" if ids and set(ids) <= _TIME_EXTRAS else "zip_metadata"
        yield "extra", cause, f"extra fields differ: {label}"
    if x.comment != y.comment:
        yield "comment", "zip_metadata", f"member comment {x.comment[:40]!r} vs {y.comment[:40]!r}"
    header = [
        f"{field} {getattr(x, field)} vs {getattr(y, field)}"
        for field in ("create_version", "extract_version", "internal_attr")
        if getattr(x, field) != getattr(y, field)
    ]
    if (x.flag_bits ^ y.flag_bits) & ~_LEVEL_BITS:
        header.append(f"flags {x.flag_bits:#06x} vs {y.flag_bits:#06x}")
    if header:
        yield "header", "zip_metadata", "; ".join(header)


def metadata_differences(ea: dict[str, Entry], eb: dict[str, Entry], changed: Sequence[str]) -> list[Difference]:
    """Differences in per-member zip metadata, grouped by kind (pure: entries in, records out)."""
    changed_set = set(changed)
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for name in sorted(ea.keys() & eb.keys(), key=lambda n: ea[n].index):
        for kind, cause, detail in _entry_facts(ea[name], eb[name], name not in changed_set):
            groups.setdefault((kind, cause), []).append((name, detail))
    differences = []
    for (kind, cause), members in groups.items():
        if len(members) <= GROUP_LIMIT:
            differences.extend(Difference(name, kind, detail, cause) for name, detail in members)
        else:
            name, detail = members[0]
            summary = f"{len(members)} of {len(ea.keys() & eb.keys())} members, e.g. {name}: {detail}"
            differences.append(Difference("", kind, summary, cause))
    return differences


def order_difference(ea: dict[str, Entry], eb: dict[str, Entry]) -> Difference | None:
    """One difference when the members both archives hold are stored in another order."""
    common = ea.keys() & eb.keys()
    order_a = sorted(common, key=lambda n: ea[n].index)
    order_b = sorted(common, key=lambda n: eb[n].index)
    if order_a == order_b:
        return None
    first = next(i for i, (x, y) in enumerate(zip(order_a, order_b)) if x != y)
    moved = sum(1 for x, y in zip(order_a, order_b) if x != y)
    detail = f"{moved} of {len(common)} members out of place; first at position {first}: "
    detail += f"{order_a[first]} vs {order_b[first]}"
    return Difference("", "order", detail, "entry_order")


def membership_differences(ea: dict[str, Entry], eb: dict[str, Entry]) -> list[Difference]:
    removed = [Difference(n, "removed", f"only in A ({ea[n].file_size} bytes)", "content") for n in ea if n not in eb]
    added = [Difference(n, "added", f"only in B ({eb[n].file_size} bytes)", "content") for n in eb if n not in ea]
    return removed + added


def first_byte_difference(path_a: str, path_b: str) -> int | None:
    """Offset of the first differing byte of two files, streamed."""
    offset = 0
    with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
        while True:
            ca, cb = fa.read(CHUNK), fb.read(CHUNK)
            if ca != cb:
                n = min(len(ca), len(cb))
                return offset + next((i for i in range(n) if ca[i] != cb[i]), n)
            if not ca:
                return None
            offset += len(ca)
