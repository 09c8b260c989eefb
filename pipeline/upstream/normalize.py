"""Normalise a wheel's zip metadata so two wheels can be compared for what installs, not how it was zipped.

Each pass is a small pure function on a :class:`Layout` (the archive's metadata: member order and
per-member zip fields, never content).  Every pass touches its own fields only, so the passes
commute: any order gives the same bytes.  Rewriting RECORD is not a pass but the final stage: it
runs while the normalised archive is written, from the members as they are actually stored.

What the passes leave alone is the point: member names, member bytes (other than RECORD), which
members exist (directory entries included) and the executable bit.  pip and installer set a file
executable when any x bit is set in its zip mode, so that bit changes behaviour and is kept.

Compression: every member is *stored* (uncompressed).  Comparing two normalised wheels is then a
comparison of decompressed bytes, and writing them costs an inflate and a copy instead of a
re-deflate, which is about 30x slower (deflating 20 MB of binary takes ~0.8 s here).

Either wheel is a stranger's zip, and writing it stored inflates every member onto the disk: a
wheel over the caps of :mod:`pipeline.explain.limits` (members, inflated size, a member's
compression ratio) is refused before a byte is written.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import io
import os
import re
import struct
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple

from ..errors import UsageError, WheelOverCap, WheelUnreadable
from ..explain.limits import ZIP_LIMITS, ZipLimits, member_problem, open_zip

CHUNK = 1 << 20
#: the earliest time a zip can store; what the timestamp pass sets every member to
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
UNIX = 3
FILE_MODE, EXEC_MODE, DIR_MODE = 0o100644, 0o100755, 0o040755
MSDOS_DIRECTORY = 0x10
ZIP64_EXTRA = 0x0001
_RECORD_RE = re.compile(r"^[^/]+\.dist-info/RECORD$")
_SIGNATURE_SUFFIXES = ("/RECORD.jws", "/RECORD.p7s")
#: deflate's level hint in general-purpose flag bits 1-2 (APPNOTE 4.4.4)
_LEVEL_HINT = {0b000: 6, 0b010: 9, 0b100: 1, 0b110: 1}
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError, ValueError)


class LayoutEntry(NamedTuple):
    """One member's zip metadata; ``source`` is its index in the original archive's directory.

    A named tuple rather than a dataclass: a pass replaces fields on every member of wheels with
    tens of thousands of them, and ``_replace`` is several times cheaper than ``dataclasses.replace``.
    """

    name: str
    source: int
    date_time: tuple[int, int, int, int, int, int]
    compress_type: int
    compress_level: int | None
    external_attr: int
    create_system: int
    extra: bytes
    comment: bytes


@dataclass(frozen=True)
class Layout:
    """The whole archive's metadata, in the order members will be written."""

    entries: tuple[LayoutEntry, ...]
    comment: bytes = b""


Pass = Callable[[Layout], Layout]


def _each(layout: Layout, **fields: object) -> Layout:
    return dataclasses.replace(layout, entries=tuple(e._replace(**fields) for e in layout.entries))


def _sort_key(entry: LayoutEntry) -> tuple[bool, bool, str, int]:
    # the wheel spec asks for .dist-info at the end and RECORD last; that also lets RECORD be
    # rewritten after every other member has been streamed through once
    top = entry.name.split("/", 1)[0]
    return (bool(_RECORD_RE.match(entry.name)), top.endswith(".dist-info"), entry.name, entry.source)


def sort_entries(layout: Layout) -> Layout:
    """Members by name, the .dist-info directory after everything else and RECORD last."""
    return dataclasses.replace(layout, entries=tuple(sorted(layout.entries, key=_sort_key)))


def zero_timestamps(layout: Layout) -> Layout:
    """Every member dated 1980-01-01 00:00:00 (what SOURCE_DATE_EPOCH=315532800 gives)."""
    return _each(layout, date_time=ZIP_EPOCH)


def store_uncompressed(layout: Layout) -> Layout:
    """Every member stored: method and level no longer matter, only the decompressed bytes."""
    return _each(layout, compress_type=zipfile.ZIP_STORED, compress_level=None)


def _normal_mode(entry: LayoutEntry) -> LayoutEntry:
    if entry.name.endswith("/"):
        attr = DIR_MODE << 16 | MSDOS_DIRECTORY
    else:
        mode = entry.external_attr >> 16 if entry.create_system == UNIX else 0
        attr = (EXEC_MODE if mode & 0o111 else FILE_MODE) << 16
    return entry._replace(external_attr=attr, create_system=UNIX)


def normalize_modes(layout: Layout) -> Layout:
    """Unix modes 0644 for files, 0755 for executables (any x bit) and directories; nothing else kept."""
    return dataclasses.replace(layout, entries=tuple(_normal_mode(e) for e in layout.entries))


def drop_extras(layout: Layout) -> Layout:
    """No extra fields (extended timestamps, uid/gid, NTFS times), no member or archive comments."""
    return dataclasses.replace(_each(layout, extra=b"", comment=b""), comment=b"")


#: the passes, by the name recorded in results; any order gives the same bytes
PASSES: Mapping[str, Pass] = {
    "sort_entries": sort_entries,
    "zero_timestamps": zero_timestamps,
    "store_uncompressed": store_uncompressed,
    "normalize_modes": normalize_modes,
    "drop_extras": drop_extras,
}
#: the final stage, always after the passes
REWRITE_RECORD = "rewrite_record"
ALL_STEPS: tuple[str, ...] = (*PASSES, REWRITE_RECORD)


def _strip_zip64(extra: bytes) -> bytes:
    # the zip64 field describes sizes, not the file; zipfile writes its own when one is needed
    kept, offset = [], 0
    while offset + 4 <= len(extra):
        header_id, size = struct.unpack_from("<HH", extra, offset)
        if header_id != ZIP64_EXTRA:
            kept.append(extra[offset : offset + 4 + size])
        offset += 4 + size
    return b"".join(kept)


def read_layout(archive: zipfile.ZipFile) -> Layout:
    """The metadata of an open archive, as it is."""
    entries = []
    for index, info in enumerate(archive.infolist()):
        level = _LEVEL_HINT[info.flag_bits & 0b110] if info.compress_type == zipfile.ZIP_DEFLATED else None
        entries.append(LayoutEntry(
            name=info.filename, source=index, date_time=tuple(info.date_time),  # type: ignore[arg-type]
            compress_type=info.compress_type, compress_level=level, external_attr=info.external_attr,
            create_system=info.create_system, extra=_strip_zip64(info.extra), comment=info.comment,
        ))
    return Layout(tuple(entries), archive.comment)


def apply_passes(layout: Layout, names: Iterable[str]) -> tuple[Layout, tuple[str, ...]]:
    """Run the named passes in the given order; returns the layout and the names that changed it."""
    changed = []
    for name in names:
        if name not in PASSES:
            raise UsageError(f"unknown normalisation pass {name!r}; known: {', '.join(ALL_STEPS)}")
        after = PASSES[name](layout)
        if after != layout:
            changed.append(name)
        layout = after
    return layout, tuple(changed)


def record_digest(digest: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def record_bytes(record_name: str, rows: Iterable[tuple[str, bytes, int]], unhashed: Iterable[str] = ()) -> bytes:
    """RECORD for (member, sha256 digest, size) rows; signatures and RECORD itself get empty fields."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for name, digest, size in rows:
        writer.writerow((name, record_digest(digest), size))
    for name in (*unhashed, record_name):
        writer.writerow((name, "", ""))
    return buffer.getvalue().encode("utf-8")


def _zipinfo(entry: LayoutEntry, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(entry.name, date_time=entry.date_time)
    info.compress_type = entry.compress_type
    info._compresslevel = entry.compress_level  # 3.13 maps this onto ZipInfo.compress_level
    info.external_attr = entry.external_attr
    info.create_system = entry.create_system
    info.extra = entry.extra
    info.comment = entry.comment
    info.file_size = size  # lets zipfile decide on zip64 before it has seen the bytes
    return info


def _copy(source: zipfile.ZipFile, info: zipfile.ZipInfo, target: zipfile.ZipFile, entry: LayoutEntry) -> tuple[bytes, int]:
    """Stream one member across; returns its sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    with source.open(info) as reader, target.open(_zipinfo(entry, info.file_size), "w") as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    return digest.digest(), size


def _member_hash(source: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[bytes, int]:
    digest = hashlib.sha256()
    size = 0
    with source.open(info) as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.digest(), size


def _hashed(entry: LayoutEntry) -> bool:
    return not entry.name.endswith("/") and not entry.name.endswith(_SIGNATURE_SUFFIXES)


def _write(source: zipfile.ZipFile, layout: Layout, out: Path, rewrite: bool) -> bool:
    """Write the layout's archive to ``out``; True when the rewritten RECORD differs from the old one."""
    infos = source.infolist()
    records = [e for e in layout.entries if _RECORD_RE.match(e.name)] if rewrite else []
    record = records[-1] if records else None
    hashes: dict[int, tuple[bytes, int]] = {}
    if record is not None and layout.entries[-1] is not record:
        # RECORD comes before some member (the sort pass was not run): hash everything first
        hashes = {e.source: _member_hash(source, infos[e.source]) for e in layout.entries if e is not record}
    record_changed = False
    with zipfile.ZipFile(out, "w") as target, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are kept, as in the source
        for entry in layout.entries:
            if entry is record:
                rows = [(e.name, *hashes[e.source]) for e in layout.entries if e is not record and _hashed(e)]
                unhashed = [e.name for e in layout.entries if e is not record and e.name.endswith(_SIGNATURE_SUFFIXES)]
                data = record_bytes(entry.name, rows, unhashed)
                # the old RECORD is hashed, not read whole: it may be as large as a hostile wheel makes it
                record_changed = (hashlib.sha256(data).digest(), len(data)) != _member_hash(source, infos[entry.source])
                with target.open(_zipinfo(entry, len(data)), "w") as writer:
                    writer.write(data)
            else:
                copied = _copy(source, infos[entry.source], target, entry)
                hashes.setdefault(entry.source, copied)
        target.comment = layout.comment
    return record_changed


def _open_within(wheel_path: Path, limits: ZipLimits) -> zipfile.ZipFile:
    """The wheel, opened only when writing it stored could not fill the disk: every member is
    inflated to be written, so one over the ratio cap refuses the whole wheel."""
    source = open_zip(wheel_path, limits)
    for info in source.infolist():
        problem = member_problem(info.filename, info.file_size, info.compress_size, limits)
        if problem:
            source.close()
            raise WheelOverCap(str(wheel_path), problem)
    return source


def normalize(wheel_path: Path, out_path: Path, passes: Iterable[str] = tuple(PASSES),
              rewrite_record: bool = True, limits: ZipLimits = ZIP_LIMITS) -> tuple[str, ...]:
    """Write the normalised wheel to ``out_path``; returns the steps that changed anything.

    ``passes`` run in the order given (any order gives the same bytes); RECORD is rewritten last
    from the normalised members.  Members are streamed, a chunk at a time.
    Raises WheelOverCap, before anything is written, when the wheel is over ``limits`` (members,
    inflated size, a member's compression ratio); WheelUnreadable when the wheel is missing, not a
    zip, or has a corrupt member (a member is never inflated past the size its header declares).
    """
    wheel_path, out_path = Path(wheel_path), Path(out_path)
    if not wheel_path.is_file():
        raise WheelUnreadable(str(wheel_path), "no such file")
    with _open_within(wheel_path, limits) as source:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=out_path.parent, prefix=".norm-")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            try:
                layout, changed = apply_passes(read_layout(source), passes)
                record_changed = _write(source, layout, tmp, rewrite_record)
            except zipfile.BadZipFile as error:
                raise WheelUnreadable(str(wheel_path), f"a corrupt member ({error})") from None
            except _READ_ERRORS as error:
                raise WheelUnreadable(str(wheel_path), str(error) or type(error).__name__) from None
            os.replace(tmp, out_path)
        finally:
            tmp.unlink(missing_ok=True)
    return changed + ((REWRITE_RECORD,) if record_changed else ())

