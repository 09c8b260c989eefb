"""What the tracker reads from an sdist before anything runs, straight from the archive (nothing is unpacked on the host).

Every member is checked as :mod:`.unpack` would (no ``..``, no absolute path, no link out, no
device, one top folder, size and count caps), so the archive the sandbox later unpacks is one the
tracker refused nothing in.  Read: ``pyproject.toml`` (the static build requirements) and where
the ``Cargo.lock`` files are (the Rust crates to fetch before the offline build).
"""

from __future__ import annotations

import posixpath
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildRequirementsFailed, EnvironmentFailed, UnsafeArchive
from .unpack import check_tar, check_zip

DEFAULT_REQUIRES = ("setuptools>=40.8.0",)  # PEP 517's fallback for a project without [build-system]
PYPROJECT_CAP = 1024**2


@dataclass(frozen=True)
class SdistFacts:
    top: str
    pyproject: str | None  # its text, when the sdist has one
    cargo_manifests: tuple[str, ...] = ()  # Cargo.toml paths (relative to the top) beside a Cargo.lock


def read_sdist(archive: Path) -> SdistFacts:
    """The checked facts; :class:`UnsafeArchive` for anything an sdist must not be."""
    name = archive.name
    if name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            top = check_zip(name, infos)
            files = {posixpath.normpath(i.filename): i for i in infos if not i.is_dir()}
            pyproject = files.get(f"{top}/pyproject.toml")
            text = _text(name, zf.read(pyproject)) if pyproject and pyproject.file_size <= PYPROJECT_CAP else None
    else:
        try:
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                top = check_tar(name, members)
                files = {posixpath.normpath(m.name): m for m in members if m.isfile()}
                member = files.get(f"{top}/pyproject.toml")
                text = None
                if member is not None and member.size <= PYPROJECT_CAP:
                    handle = tf.extractfile(member)
                    text = _text(name, handle.read() if handle else b"")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise UnsafeArchive(name, "*", f"is not a readable tar archive ({exc})") from None
    if f"{top}/pyproject.toml" not in files and f"{top}/setup.py" not in files:
        raise UnsafeArchive(name, top, "has neither pyproject.toml nor setup.py: not an sdist")
    return SdistFacts(top, text, cargo_manifests(top, files))


def _text(archive: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvironmentFailed("reading pyproject.toml", f"{archive}'s pyproject.toml is not UTF-8") from None


def cargo_manifests(top: str, files) -> tuple[str, ...]:
    """Cargo.toml beside each Cargo.lock the sdist ships (not in build output folders), relative to ``top``."""
    found = []
    for path in sorted(files):
        if not path.endswith("/Cargo.lock") or not path.startswith(top + "/"):
            continue
        relative = path[len(top) + 1:]
        parts = relative.split("/")
        folder = posixpath.dirname(relative)
        manifest = posixpath.join(folder, "Cargo.toml") if folder else "Cargo.toml"
        if len(parts) <= 5 and "target" not in parts and f"{top}/{manifest}" in files:
            found.append(manifest)
    return tuple(found)


def static_requirements(facts: SdistFacts) -> list[str]:
    """[build-system] requires, with PEP 517's fallback for a project without one."""
    if facts.pyproject is None:
        return list(DEFAULT_REQUIRES)
    try:
        data = tomllib.loads(facts.pyproject)
    except tomllib.TOMLDecodeError as exc:
        raise EnvironmentFailed("reading pyproject.toml", str(exc)) from None
    system = data.get("build-system")
    if system is None:
        return list(DEFAULT_REQUIRES)
    requires = system.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise EnvironmentFailed("reading pyproject.toml", "[build-system] requires is not a list of strings")
    return requires


def checked_requirements(texts: list[str]) -> list[str]:
    """Each requirement parsed as PEP 508 and written back canonically: a package's requirement list
    is hostile input, and a line like ``--index-url URL`` must never reach the resolver as an option."""
    from packaging.requirements import InvalidRequirement, Requirement

    checked = []
    for text in texts:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise BuildRequirementsFailed("build requirements", f"{text[:80]!r} is not a valid requirement ({exc})") from None
        if requirement.url:
            raise BuildRequirementsFailed("build requirements", f"{requirement.name} is a direct URL reference; "
                                          "only requirements resolved on the index are built with")
        checked.append(str(requirement))
    return checked
