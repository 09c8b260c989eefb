"""What auditwheel actually did to a published manylinux/musllinux wheel, so the note says only that.

A repaired wheel is built in a manylinux image and retagged; auditwheel vendors shared libraries
into ``<name>.libs/`` and sets RPATH/RUNPATH on the extensions that need them, but only when there
are libraries to vendor (regex's wheel has neither).  Its compiled files come from another
compiler and C library than a rebuild here, so they are never compared; its Python files are.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..explain.elffile import ELF_MAGIC, ELFError, parse

SHT_DYNAMIC = 6
DT_NULL, DT_RPATH, DT_RUNPATH = 0, 15, 29
#: extension modules bigger than this are not read for their RPATH (the count says so)
MAX_ELF_BYTES = 256 * 1024 * 1024
COMPILED = (".so", ".pyd", ".dylib")


@dataclass(frozen=True)
class Repair:
    """What the published wheel shows of auditwheel's work."""

    vendored: tuple[str, ...]  # members under a top-level *.libs/ folder
    rpaths: tuple[tuple[str, str], ...]  # (extension member, its RPATH/RUNPATH) where one is set
    compiled: int  # compiled members (extension modules and vendored libraries)


def _runpath(data: bytes) -> str:
    """The RUNPATH (or RPATH) of an ELF image, "" when it has none or is not ELF."""
    try:
        elf = parse(data)
    except ELFError:
        return ""
    sections = elf.by_name()
    dynamic = next((s for s in elf.sections if s.type == SHT_DYNAMIC), None)
    strings = sections.get(".dynstr")
    if dynamic is None or strings is None:
        return ""
    entry = struct.Struct(elf.endian + ("qQ" if elf.bits == 64 else "iI"))
    table = elf.section_bytes(dynamic)
    names = bytes(elf.section_bytes(strings))
    found = {}
    for offset in range(0, len(table) - entry.size + 1, entry.size):
        tag, value = entry.unpack_from(table, offset)
        if tag == DT_NULL:
            break
        if tag in (DT_RPATH, DT_RUNPATH) and value < len(names):
            end = names.find(b"\x00", value)
            found[tag] = names[value:end if end >= 0 else len(names)].decode("utf-8", "replace")
    return found.get(DT_RUNPATH) or found.get(DT_RPATH) or ""


def inspect_repaired(wheel: Path) -> Repair:
    """The vendored libraries, RPATHs and compiled members of a published wheel."""
    vendored, rpaths, compiled = [], [], 0
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir():
                continue
            top = name.split("/", 1)[0]
            if top.endswith(".libs") and "/" in name:
                vendored.append(name)
            leaf = name.rsplit("/", 1)[-1]
            if not (leaf.endswith(COMPILED) or ".so." in leaf):
                continue
            compiled += 1
            if info.file_size > MAX_ELF_BYTES:
                continue
            with archive.open(info) as handle:
                if handle.read(4) != ELF_MAGIC:
                    continue
            runpath = _runpath(archive.read(info))
            if runpath and not top.endswith(".libs"):
                rpaths.append((name, runpath))
    return Repair(tuple(vendored), tuple(rpaths), compiled)


def repair_words(repair: Repair) -> str:
    """``2 vendored libraries in x.libs/, RUNPATH $ORIGIN/../x.libs on 1 extension`` or that there is none."""
    parts = []
    if repair.vendored:
        folders = sorted({name.split("/", 1)[0] + "/" for name in repair.vendored})
        count = len(repair.vendored)
        parts.append(f"{count} vendored librar{'ies' if count != 1 else 'y'} in {', '.join(folders)}")
    if repair.rpaths:
        paths = sorted({path for _, path in repair.rpaths})
        count = len(repair.rpaths)
        parts.append(f"RPATH {', '.join(paths)} on {count} extension module{'s' if count != 1 else ''}")
    return "; ".join(parts) if parts else "no vendored libraries and no RPATH: only retagged"
