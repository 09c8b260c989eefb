"""Hostile wheels made in code and kept small on disk: zip bombs, 200,000 members, bombs in bombs."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

MiB = 1024**2
EPOCH = (2020, 1, 1, 0, 0, 0)
DIST = "demo-1.0.dist-info"
INNOCENT = (
    ("demo/__init__.py", b'"""Demo."""\nVALUE = 1\n'),
    ("demo/_build.py", b'BUILD_DIR = "/tmp/build-aaa/src"\n'),
    (f"{DIST}/METADATA", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),
    (f"{DIST}/WHEEL", b"Wheel-Version: 1.0\nGenerator: handmade\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
)


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def bomb(path: Path, inflated: int, *, name: str = "demo/bomb.bin", members=INNOCENT, fill: bytes = b"\0") -> Path:
    """A wheel of innocent members and one that inflates to ``inflated`` bytes of ``fill``,
    streamed through zipfile a MiB at a time (256 MiB of zeros is 256 KiB stored)."""
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members:
            archive.writestr(_info(member), data)
        block = fill * MiB
        with archive.open(_info(name), "w", force_zip64=True) as writer:
            for _ in range(inflated // MiB):
                writer.write(block)
    return path


def wheel(path: Path, members=INNOCENT) -> Path:
    """A small, honest wheel."""
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members:
            archive.writestr(_info(member), data)
    return path


def nested(path: Path, inner: Path, *, members=INNOCENT) -> Path:
    """A wheel holding another zip (a bomb) as a member, stored: its own ratio is 1:1."""
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members:
            archive.writestr(_info(member), data)
        info = _info("demo/data/inner.zip")
        info.compress_type = zipfile.ZIP_STORED
        archive.writestr(info, inner.read_bytes())
    return path


def _raw_zip(path: Path, entries) -> Path:
    """A zip written byte by byte from (name, method, stored bytes, crc, declared size): headers say
    whatever the entry says, which zipfile's writer would never let a test do."""
    local, central = bytearray(), bytearray()
    for name, method, stored, crc, size in entries:
        name = name.encode()
        offset = len(local)
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x2821, crc, len(stored), size,
                             len(name), 0) + name + stored
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x031E, 20, 0, method, 0, 0x2821, crc, len(stored),
                               size, len(name), 0, 0, 0, 0, 0o644 << 16, offset) + name
    count = len(entries)
    tail = b""
    if count >= 0xFFFF:  # zip64 end records carry the count; the classic one says "see zip64"
        start = len(local)
        tail = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), start)
        tail += struct.pack("<4sLQL", b"PK\x06\x07", 0, start + len(central), 1)
        count = 0xFFFF
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), len(local), 0)
    path.write_bytes(bytes(local + central) + tail + end)
    return path


def many_members(path: Path, count: int) -> Path:
    """A valid zip of ``count`` empty members (zipfile's writer takes 3 s for 200,000)."""
    return _raw_zip(path, [(f"demo/m{i}", zipfile.ZIP_STORED, b"", 0, 0) for i in range(count)])


def understated(path: Path, inflated: int, claimed: int) -> Path:
    """A member whose headers claim ``claimed`` bytes while its deflate stream holds ``inflated``
    bytes of zeros (the CRC is that of the claimed bytes, so only the sizes lie)."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    block = bytes(MiB)
    stored = b"".join(deflate.compress(block) for _ in range(inflated // MiB)) + deflate.flush()
    crc = zlib.crc32(bytes(claimed))
    return _raw_zip(path, [("demo/liar.bin", zipfile.ZIP_DEFLATED, stored, crc, claimed)])
