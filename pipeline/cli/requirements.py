"""Requirements files in pip's format: exact pins, environment markers, ``--hash``.

Pure parsing: each line becomes an :class:`Entry`, and a line that cannot be checked stays an
entry with a ``problem`` (so it is reported once and the others go on).  As in pip, once any
requirement carries a ``--hash`` (or the file says ``--require-hashes``), every requirement must.
"""

from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Mapping

from packaging.markers import Marker, default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..engine.interpreters import Interpreter

#: the digests pip accepts in ``--hash=ALGO:HEX``, and their lengths in hex digits
HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
#: options that change how pip installs, not which release a pin names: accepted and ignored
IGNORED_OPTIONS = ("--extra-index-url", "--find-links", "-f", "--trusted-host", "--prefer-binary", "--only-binary",
                   "--no-binary", "--pre", "--no-index", "--use-feature")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One requirement: ``name==version``, the marker that says where it applies, the hashes it allows."""

    where: str  # "requirements.txt:12"
    text: str  # the line as written (continuations joined)
    name: str = ""
    version: str = ""
    marker: Marker | None = None
    hashes: tuple[str, ...] = ()  # "sha256:HEX", lowercase
    problem: str = ""  # why this line cannot be checked

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}" if self.name and self.version else self.text

    def applies_to(self, interpreter: Interpreter) -> bool:
        """Whether the entry's environment marker holds on ``interpreter`` (true without a marker)."""
        return self.marker is None or self.marker.evaluate(marker_environment(interpreter))


def marker_environment(interpreter: Interpreter) -> Mapping[str, str]:
    """PEP 508 marker values for ``interpreter`` on this machine."""
    env = dict(default_environment())
    env.update(python_version=interpreter.minor, python_full_version=interpreter.version,
               implementation_name="cpython", implementation_version=interpreter.version,
               platform_python_implementation="CPython")
    return env


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) with comments dropped and backslash continuations joined."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        line = _COMMENT.sub("", raw)
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if joined:
            yield start, joined
    if pending:
        joined = " ".join(part.strip() for part in pending).strip()
        if joined:
            yield start, joined


def parse_hash(value: str) -> str:
    algorithm, _, digest = value.partition(":")
    algorithm, digest = algorithm.lower(), digest.lower()
    if algorithm not in HASH_LENGTHS or not re.fullmatch(f"[0-9a-f]{{{HASH_LENGTHS[algorithm]}}}", digest):
        raise ValueError(f"--hash wants sha256:HEX (or sha384/sha512), got {value!r}")
    return f"{algorithm}:{digest}"


def parse_entry(where: str, line: str) -> Entry:
    """One requirement line (not an option line) as an Entry, with a problem when it cannot be checked."""
    requirement_text, _, options_text = line.partition(" --")
    if line.startswith("--"):
        requirement_text, options_text = "", line[2:]
    entry = Entry(where=where, text=line)
    hashes: list[str] = []
    try:
        words = shlex.split("--" + options_text) if options_text else []
    except ValueError as error:
        return replace(entry, problem=f"cannot read the options: {error}")
    for number, word in enumerate(words):
        if word.startswith("--hash="):
            value = word.partition("=")[2]
        elif word == "--hash" and number + 1 < len(words):
            value = words[number + 1]
        elif number and words[number - 1] == "--hash":
            continue
        else:
            return replace(entry, problem=f"unsupported option {word.split('=')[0]!r} on a requirement")
        try:
            hashes.append(parse_hash(value))
        except ValueError as error:
            return replace(entry, problem=str(error))
    try:
        requirement = Requirement(requirement_text.strip())
    except InvalidRequirement as error:
        return replace(entry, problem=f"not a requirement: {str(error).splitlines()[0]}")
    entry = replace(entry, name=canonicalize_name(requirement.name), marker=requirement.marker,
                    hashes=tuple(dict.fromkeys(hashes)))
    specifiers = list(requirement.specifier)
    if requirement.url:
        return replace(entry, problem="a URL requirement; give NAME==VERSION")
    if len(specifiers) != 1 or specifiers[0].operator not in ("==", "===") or "*" in specifiers[0].version:
        return replace(entry, problem="not an exact pin; give NAME==VERSION")
    try:
        version = str(Version(specifiers[0].version))
    except InvalidVersion:
        return replace(entry, problem=f"{specifiers[0].version!r} is not a valid version")
    return replace(entry, version=version)


def load_requirements(paths: list[Path], index_url: str) -> list[Entry]:
    """Every entry of the files (and those they include with ``-r``), pip's hash-checking rule applied.

    An ``--index-url`` line is accepted when it names ``index_url``, the index the check uses.
    """
    entries: list[Entry] = []
    require_hashes = False
    for path in paths:
        found, required = _read(path, frozenset(), index_url)
        entries += found
        require_hashes = require_hashes or required
    if not require_hashes and not any(entry.hashes for entry in entries):
        return entries
    return [entry if entry.problem or entry.hashes else
            replace(entry, problem="hash-checking mode (some requirements have --hash): this one has none")
            for entry in entries]


def _read(path: Path, seen: frozenset[Path], index_url: str) -> tuple[list[Entry], bool]:
    resolved = path.resolve()
    text = path.read_text(encoding="utf-8")  # OSError / UnicodeDecodeError: the caller says which file
    entries: list[Entry] = []
    require_hashes = False
    for number, line in logical_lines(text):
        where = f"{path}:{number}"
        option, _, value = line.replace("=", " ", 1).partition(" ") if line.startswith("-") else ("", "", "")
        value = value.strip()
        if option in ("-r", "--requirement"):
            included = path.parent / value
            if not value or included.resolve() in seen | {resolved}:
                entries.append(Entry(where, line, problem="-r names no file, or a file already being read"))
                continue
            try:
                found, required = _read(included, seen | {resolved}, index_url)
            except (OSError, UnicodeDecodeError) as error:
                entries.append(Entry(where, line, problem=f"cannot read {value}: {_reason(error)}"))
                continue
            entries += found
            require_hashes = require_hashes or required
        elif option == "--require-hashes":
            require_hashes = True
        elif option in ("-i", "--index-url"):
            if value.rstrip("/") != index_url.rstrip("/"):
                entries.append(Entry(where, line, problem=f"the file names the index {value}; pass "
                                                          f"--index-url {value} to check against it"))
        elif option in IGNORED_OPTIONS:
            continue
        elif option == "--hash":
            entries.append(Entry(where, line, problem="a --hash line without a requirement"))
        elif option:
            entries.append(Entry(where, line, problem=f"unsupported option {option!r}"))
        else:
            entries.append(parse_entry(where, line))
    return entries, require_hashes


def requirements_file(text: str) -> Path:
    """The -r option's value: a readable requirements file (checked when the option is parsed)."""
    path = Path(text)
    try:
        if "\x00" in text:
            raise ValueError("a NUL byte in the name")
        path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"cannot read requirements file {text}: {_reason(error)}") from None
    return path


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error)


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))
