"""Just enough ELF to compare two shared objects section by section (pure Python, no deps)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

ELF_MAGIC = b"\x7fELF"
SHT_NOBITS = 8
SHF_COMPRESSED = 0x800
NT_GNU_BUILD_ID = 3
_SHN_XINDEX = 0xFFFF
#: compressed debug sections are inflated, all of one file's together, up to this many bytes;
#: the rest are left compressed (they are only searched for strings).  Deflate inflates up to
#: 1032:1, so a 32 MiB file of small compressed sections could make 32 GiB: the budget is per file.
INFLATE_BUDGET = 64 * 1024 * 1024
#: real shared objects have tens of sections; object files built with -ffunction-sections, thousands
MAX_SECTIONS = 100_000


class ELFError(ValueError):
    """Not an ELF file, or one whose headers point outside it."""


@dataclass(frozen=True)
class Section:
    name: str
    type: int
    flags: int
    offset: int
    size: int

    @property
    def has_bytes(self) -> bool:
        return self.type != SHT_NOBITS


@dataclass(frozen=True)
class ELFFile:
    """Parsed section table of one ELF image held in memory."""

    data: bytes
    bits: int
    endian: str
    sections: tuple[Section, ...]

    def section_bytes(self, section: Section) -> memoryview:
        """A view, not a copy: a large .debug_info is compared without doubling memory."""
        if not section.has_bytes:
            return memoryview(b"")
        return memoryview(self.data)[section.offset : section.offset + section.size]

    def inflated(self, section: Section, limit: int = INFLATE_BUDGET) -> tuple[bytes | None, bool]:
        """A zlib-compressed (SHF_COMPRESSED) section's bytes inflated, at most ``limit`` of them, and
        whether the inflating stopped at the limit; None for a section that is not inflated."""
        raw = self.section_bytes(section)
        header = struct.Struct(self.endian + ("IIQQ" if self.bits == 64 else "III"))
        if not section.flags & SHF_COMPRESSED or len(raw) < header.size:
            return None, False
        if header.unpack_from(raw)[0] != 1:  # zstd (2) is not in the standard library before 3.14
            return None, False
        if limit <= 0:
            return None, True
        try:
            inflater = zlib.decompressobj()
            return inflater.decompress(raw[header.size :], limit), bool(inflater.unconsumed_tail)
        except zlib.error:
            return None, False

    def contents(self, sections: list[Section], budget: int = INFLATE_BUDGET) -> tuple[bytes, bool]:
        """The sections' bytes joined by NULs, compressed ones inflated up to ``budget`` bytes in all
        (the rest as stored), and whether the budget cut any short."""
        parts: list[bytes | memoryview] = []
        capped = False
        for section in sections:
            data, cut = self.inflated(section, budget)
            capped = capped or cut
            if data is None:
                parts.append(self.section_bytes(section))
            else:
                budget -= len(data)
                parts.append(data)
        return b"\x00".join(parts), capped

    def by_name(self) -> dict[str, Section]:
        # duplicate names are rare but legal; suffix them so each is still compared (counted, so
        # a file of 100,000 sections named alike costs no more than 100,000 named apart)
        named: dict[str, Section] = {}
        last: dict[str, int] = {}
        for section in self.sections:
            name = section.name or "<unnamed>"
            n = last.get(name, 0) + 1
            key = name if n == 1 else f"{name}#{n}"
            while key in named:
                n += 1
                key = f"{name}#{n}"
            last[name] = n
            named[key] = section
        return named

    def build_id(self) -> str | None:
        for section in self.sections:
            if section.name == ".note.gnu.build-id":
                return _note_desc(self.section_bytes(section), self.endian, NT_GNU_BUILD_ID)
        return None


def _note_desc(data: bytes | memoryview, endian: str, wanted: int) -> str | None:
    offset = 0
    while offset + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from(endian + "III", data, offset)
        name_end = offset + 12 + ((namesz + 3) & ~3)
        desc = data[name_end : name_end + descsz]
        if ntype == wanted:
            return desc.hex()
        offset = name_end + ((descsz + 3) & ~3)
    return None


def parse(data: bytes) -> ELFFile:
    """Parse the section table; raise ELFError when the file is not a well-formed ELF."""
    if len(data) < 52 or not data.startswith(ELF_MAGIC):
        raise ELFError("not an ELF file")
    bits = {1: 32, 2: 64}.get(data[4])
    endian = {1: "<", 2: ">"}.get(data[5])
    if bits is None or endian is None:
        raise ELFError("unknown ELF class or byte order")
    if bits == 64:
        shoff, shentsize, shnum, shstrndx = _fields(data, endian + "40xQ10xHHH")
        entry = struct.Struct(endian + "IIQQQQIIQQ")
    else:
        shoff, shentsize, shnum, shstrndx = _fields(data, endian + "32xI10xHHH")
        entry = struct.Struct(endian + "IIIIIIIIII")
    if shoff == 0:
        return ELFFile(data, bits, endian, ())
    if shentsize < entry.size:
        raise ELFError("section header entries too small")
    raw = []
    first = _entry(data, entry, shoff)
    if shnum == 0:  # more than 0xff00 sections: the count lives in section 0
        shnum = first[5]
    if shstrndx == _SHN_XINDEX:
        shstrndx = first[6]
    if shoff + shnum * shentsize > len(data):
        raise ELFError("section headers run past the end of the file")
    if shnum > MAX_SECTIONS:
        raise ELFError(f"more than {MAX_SECTIONS:,} sections")
    for i in range(shnum):
        raw.append(_entry(data, entry, shoff + i * shentsize))
    names = b""
    if shstrndx < len(raw):
        names_offset, names_size = raw[shstrndx][4], raw[shstrndx][5]
        names = data[names_offset : names_offset + names_size]
    sections = []
    stored = 0
    for name_offset, kind, flags, _addr, offset, size, *_ in raw:
        if kind != SHT_NOBITS and offset + size > len(data):
            raise ELFError(f"section at {offset} runs past the end of the file")
        stored += size if kind != SHT_NOBITS else 0
        if stored > len(data):
            # a linker never overlaps sections; a hostile file points thousands at the same bytes, to be
            # compared, joined and inflated once per section
            raise ELFError("sections overlap: together they are larger than the file")
        end = names.find(b"\x00", name_offset)
        name = names[name_offset : end if end >= 0 else len(names)].decode("ascii", "replace")
        sections.append(Section(name, kind, flags, offset, size))
    return ELFFile(data, bits, endian, tuple(sections))


def _fields(data: bytes, fmt: str) -> tuple[int, ...]:
    try:
        return struct.unpack_from(fmt, data, 0)
    except struct.error as error:
        raise ELFError(f"truncated ELF header: {error}") from None


def _entry(data: bytes, entry: struct.Struct, offset: int) -> tuple[int, ...]:
    try:
        return entry.unpack_from(data, offset)
    except struct.error:
        raise ELFError("truncated section header") from None
