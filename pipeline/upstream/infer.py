"""Infer the toolchain that made a published wheel: its backend and version, and the timestamp rule.

Pure reading, no network and no package code: the published wheel's ``WHEEL`` Generator and
``METADATA`` Metadata-Version, its zip entry times, and the sdist's ``[build-system]`` read
straight from the archive (never from a folder a build could have touched).  :func:`infer` turns
them into the requirements to resolve (the sdist's own plus the backend pinned to the Generator's
version) and the build's ``SOURCE_DATE_EPOCH``, or raises :class:`NotInferred` with the reason.
"""

from __future__ import annotations

import calendar
import re
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from ..engine.sdist import DEFAULT_REQUIRES
from ..errors import NotInferred, WheelUnreadable

#: pyproject.toml bigger than this is not read (a hostile sdist could make it huge)
MAX_PYPROJECT = 1 << 20
#: the earliest time a zip can store, 1980-01-01T00:00:00Z
ZIP_EPOCH = 315532800


@dataclass(frozen=True)
class Backend:
    """A build backend as a Generator names it: the PyPI project to pin, the modules that serve it."""

    project: str
    modules: tuple[str, ...]
    #: requirements the Generator implies but does not pin (recorded as guesses)
    implied: tuple[str, ...] = ()


#: Generator family (the word before the version in WHEEL's ``Generator:``) -> backend
BACKENDS: dict[str, Backend] = {
    "setuptools": Backend("setuptools", ("setuptools.build_meta",)),
    # wheel's own bdist_wheel command: setuptools 70.1 took it over (and then names itself), so the
    # setuptools that ran was older; which one the wheel does not say
    "bdist_wheel": Backend("wheel", ("setuptools.build_meta",), implied=("setuptools<70.1",)),
    "flit": Backend("flit-core", ("flit_core.buildapi", "flit.buildapi")),
    "hatchling": Backend("hatchling", ("hatchling.build", "hatchling.ouroboros")),
    "poetry-core": Backend("poetry-core", ("poetry.core.masonry.api",)),
    "pdm-backend": Backend("pdm-backend", ("pdm.backend",)),
    "pdm-pep517": Backend("pdm-pep517", ("pdm.pep517.api",)),
    "maturin": Backend("maturin", ("maturin",)),
    "scikit-build-core": Backend("scikit-build-core", ("scikit_build_core.build",)),
    "meson": Backend("meson-python", ("mesonpy",)),
    "uv": Backend("uv-build", ("uv_build",)),
}
#: PEP 517's fallback when an sdist names no build-backend
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"

_PARENTHESISED = re.compile(r"^Requires-Dist: *[A-Za-z0-9._-]+(?:\[[^\]]*\])? \(", re.M)
#: setuptools-made wheels (its own bdist_wheel, or wheel's) whose python tag the command line can set
TAGGED_BY_BDIST_WHEEL = ("setuptools", "bdist_wheel")
_GENERATOR = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_.-]*?)\s*(?:\(\s*(?P<paren>[^)\s]+)\s*\)|(?P<bare>\d\S*))?\s*$")


@dataclass(frozen=True)
class WheelFacts:
    """What the published wheel says about how it was made."""

    filename: str
    generator: str  # "" when WHEEL has none
    metadata_version: str
    times: tuple[tuple[int, int, int, int, int, int], ...]  # distinct zip entry times, sorted
    windows: bool  # some entry was zipped on MS-DOS/Windows (create_system 0)
    #: some Requires-Dist is written ``name (spec)``: wheel < 0.41's metadata conversion wrote that
    parenthesised: bool = False


@dataclass(frozen=True)
class BuildSystem:
    """An sdist's ``[build-system]``: its requires, its backend, whether the backend is in-tree."""

    requires: tuple[str, ...]
    backend: str
    in_tree: bool


@dataclass(frozen=True)
class Inference:
    """The toolchain to rebuild with, and where each part came from."""

    family: str
    backend: str  # the PyPI project pinned
    version: str
    requirements: tuple[str, ...]  # what to resolve: the sdist's requires, the pin, the guesses
    pinned: str  # the exact pin, e.g. "flit-core==3.11.0"
    guessed: tuple[str, ...]
    source_date_epoch: str | None  # None: leave it unset
    timestamps: str  # the rule that chose source_date_epoch, in words
    notes: tuple[str, ...] = ()
    config_settings: tuple[str, ...] = ()  # -C options for the frontend, e.g. a python tag the wheel shows
    env_vars: tuple[str, ...] = ()  # NAME=value beyond the controls: the sdist's own switch for a pure build


def parse_generator(text: str) -> tuple[str, str] | None:
    """``setuptools (75.6.0)``, ``flit 3.11.0``, ``pdm-backend (2.5.0)`` -> (family, version); the
    version is "" when the Generator names none (``meson``); None when it is not a name at all."""
    match = _GENERATOR.fullmatch(text.strip())
    if not match:
        return None
    return match.group("name").lower(), match.group("paren") or match.group("bare") or ""


def _dist_info_member(names: list[str], leaf: str) -> str | None:
    found = [n for n in names if n.count("/") == 1 and n.split("/")[0].endswith(".dist-info") and n.endswith("/" + leaf)]
    return found[0] if len(found) == 1 else None


def _header(text: str, field: str) -> str:
    for line in text.splitlines():
        if not line.strip():
            break  # headers end at the first blank line (the description follows)
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == field:
            return value.strip()
    return ""


def read_wheel(path: Path) -> WheelFacts:
    """The Generator, Metadata-Version and entry times of a wheel (its bytes, not unpacked)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [i.filename for i in infos]
            texts = {}
            for leaf in ("WHEEL", "METADATA"):
                member = _dist_info_member(names, leaf)
                info = archive.getinfo(member) if member else None
                texts[leaf] = archive.read(member).decode("utf-8", "replace") if info and info.file_size < MAX_PYPROJECT else ""
    except (zipfile.BadZipFile, OSError, KeyError) as error:
        raise WheelUnreadable(str(path), f"not a readable zip ({error})") from None
    return WheelFacts(
        filename=path.name,
        generator=_header(texts["WHEEL"], "generator"),
        metadata_version=_header(texts["METADATA"], "metadata-version"),
        times=tuple(sorted({i.date_time for i in infos})),
        windows=any(i.create_system == 0 for i in infos),
        parenthesised=bool(_PARENTHESISED.search(texts["METADATA"].split("\n\n", 1)[0])),
    )


def _pyproject_bytes(sdist: Path) -> bytes | None:
    """The sdist's top-level pyproject.toml, read from the archive; None when it has none."""
    def wanted(name: str) -> bool:
        parts = name.strip("/").split("/")
        return len(parts) == 2 and parts[1] == "pyproject.toml"

    too_big = NotInferred(f"the sdist's pyproject.toml is over {MAX_PYPROJECT} bytes")
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                for info in archive.infolist():
                    if wanted(info.filename) and not info.is_dir():
                        if info.file_size > MAX_PYPROJECT:
                            raise too_big
                        return archive.read(info)
            return None
        with tarfile.open(sdist) as archive:
            for member in archive:
                if wanted(member.name) and member.isfile():
                    if member.size > MAX_PYPROJECT:
                        raise too_big
                    handle = archive.extractfile(member)
                    return handle.read(MAX_PYPROJECT + 1) if handle else None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as error:
        raise NotInferred(f"the sdist cannot be read ({error})") from None
    return None


def read_build_system(sdist: Path) -> BuildSystem:
    """The sdist's [build-system], with PEP 517's fallbacks for what it leaves out."""
    raw = _pyproject_bytes(sdist)
    if raw is None:
        return BuildSystem(DEFAULT_REQUIRES, LEGACY_BACKEND, False)
    try:
        system = tomllib.loads(raw.decode("utf-8")).get("build-system")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise NotInferred(f"the sdist's pyproject.toml cannot be read ({error})") from None
    if not isinstance(system, dict):
        return BuildSystem(DEFAULT_REQUIRES, LEGACY_BACKEND, False)
    requires = system.get("requires", list(DEFAULT_REQUIRES))
    backend = system.get("build-backend", LEGACY_BACKEND)
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires) or not isinstance(backend, str):
        raise NotInferred("the sdist's [build-system] is malformed")
    return BuildSystem(tuple(requires), backend, bool(system.get("backend-path")))


def timestamp_rule(times: tuple[tuple[int, ...], ...]) -> tuple[str | None, str]:
    """SOURCE_DATE_EPOCH for the rebuild, and why.

    One time on every entry means the backend stamped them all alike (from SOURCE_DATE_EPOCH, or
    its own constant, as hatchling's 2020-02-02 and poetry's and pdm's 2016-01-01): set it to that
    time.  Several times are file mtimes and the build clock: leave it unset, so the sdist's own
    mtimes (kept when unpacking) date the sources as they did for the index's wheel; TZ is UTC.
    """
    if len(times) == 1:
        moment = max(ZIP_EPOCH, calendar.timegm((*times[0], 0, 0, 0)))
        stamp = "%04d-%02d-%02dT%02d:%02d:%02dZ" % times[0]
        return str(moment), f"every entry of the index's wheel is dated {stamp} (read as UTC): SOURCE_DATE_EPOCH set to it"
    return None, (f"the index's wheel has {len(times)} different entry times (file mtimes and the build clock): "
                  "SOURCE_DATE_EPOCH unset, the sdist's mtimes kept, TZ=UTC")


def _declared_family_agrees(system: BuildSystem, backend: Backend) -> bool:
    module = system.backend.split(":", 1)[0].strip()
    return any(module == m or module.startswith(m + ".") for m in backend.modules)


def _name(requirement: str) -> str | None:
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return None


def _python_tags(filename: str) -> str:
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return ""
    if not all(t.abi == "none" and t.platform == "any" for t in tags):
        return ""
    return ".".join(sorted({t.interpreter for t in tags}))


def _fingerprints(family: str, facts: WheelFacts, rebuilt: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """What the published wheel shows of its maker's environment beyond the Generator:
    (guessed requirements, frontend config settings, notes)."""
    guessed, settings, notes = [], [], []
    if family == "setuptools" and facts.parenthesised:
        # setuptools >= 71 converts metadata with an installed wheel when there is one
        guessed.append("wheel<0.41")
        notes.append("Requires-Dist is written 'name (spec)', as wheel < 0.41 wrote it: the maker's environment had "
                     "an older wheel installed beside setuptools")
    ours, theirs = _python_tags(rebuilt), _python_tags(facts.filename)
    if family in TAGGED_BY_BDIST_WHEEL and ours and theirs and ours != theirs:
        settings.append(f"--build-option=--python-tag={theirs}")
        notes.append(f"the index's wheel is tagged {theirs}, the backend's default here {ours}: bdist_wheel was asked "
                     f"for it (--universal or --python-tag)")
    return tuple(guessed), tuple(settings), tuple(notes)


def infer(facts: WheelFacts, system: BuildSystem, rebuilt: str = "") -> Inference:
    """The toolchain that made ``facts``' wheel from an sdist declaring ``system``; NotInferred if none.

    ``rebuilt`` is the controlled rebuild's file name, to tell a python tag the backend would not
    choose by itself."""
    if not facts.generator:
        raise NotInferred(f"{facts.filename} names no Generator in its WHEEL file")
    parsed = parse_generator(facts.generator)
    if parsed is None or parsed[0] not in BACKENDS:
        raise NotInferred(f"unknown build backend: WHEEL says Generator: {facts.generator}")
    family, version = parsed
    if not version:
        raise NotInferred(f"the Generator names no version ({facts.generator})")
    backend = BACKENDS[family]
    if not system.in_tree and not _declared_family_agrees(system, backend):
        raise NotInferred(f"the wheel says it was made by {facts.generator}, but the sdist declares "
                          f"{system.backend}: not the backend that made it")
    bad = [r for r in system.requires if _name(r) is None]
    if bad:
        raise NotInferred(f"the sdist's build requirement {bad[0]!r} is not a valid requirement")
    pinned = f"{backend.project}=={version}"
    sde, rule = timestamp_rule(facts.times)
    guessed, settings, notes = _fingerprints(family, facts, rebuilt)
    guessed, notes = backend.implied + guessed, list(notes)
    if facts.windows:
        notes.append("the index's wheel was zipped on Windows (entries made by MS-DOS/Windows): line endings and "
                     "modes may not match a Linux rebuild")
    if system.in_tree:
        notes.append(f"the sdist wraps its backend in-tree ({system.backend})")
    return Inference(
        family=family, backend=backend.project, version=version,
        requirements=(*system.requires, pinned, *guessed), pinned=pinned, guessed=guessed,
        source_date_epoch=sde, timestamps=rule, notes=tuple(notes), config_settings=settings,
    )
