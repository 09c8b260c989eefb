"""Compare the rebuilt wheel with the wheel the index publishes for the same tags.

Reproducible from its own sdist is one guarantee; "the wheel on the index is what its sdist builds
to" is the one someone installing from the index needs.  :func:`check_upstream` picks the
published wheel, fetches it (digest verified), and classifies (see docs/upstream.md):
``identical``, ``equivalent`` (equal after :mod:`pipeline.upstream.normalize`), ``different`` (members named
by :func:`pipeline.explain.compare_wheels`), ``no-wheel``, ``not-comparable``, or ``not-checked``
(the network or the index failed: never a verdict).
"""

from __future__ import annotations

import filecmp
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from ..errors import PipelineError, WheelUnreadable
from ..explain import compare_wheels
from ..engine.fetch import fetch_artifact, sha256_of
from ..engine.net import Client
from .normalize import ALL_STEPS, normalize
from .repaired import inspect_repaired, repair_words
from ..records import Artifact, Difference, Release, Upstream

MatchKind = Literal["exact", "tags", "pure", "repaired"]
_RANK: dict[str, int] = {"exact": 0, "tags": 1, "pure": 2, "repaired": 3}
#: platform tags auditwheel gives a repaired linux wheel
_REPAIRED_PREFIXES = ("manylinux", "musllinux")
NOTE_MEMBERS = 5


@dataclass(frozen=True)
class Match:
    """The published wheel chosen for a rebuild, and why it was chosen."""

    artifact: Artifact
    kind: MatchKind

    @property
    def comparable(self) -> bool:
        return self.kind != "repaired"


def _tags(filename: str) -> tuple[str, frozenset[Tag]] | None:
    try:
        name, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return canonicalize_name(name), tags


def is_pure(tags: Iterable[Tag]) -> bool:
    return all(t.abi == "none" and t.platform == "any" for t in tags)


def pure_name(filename: str) -> bool:
    """The wheel's file name says it is for any ABI and platform (``py3-none-any``)."""
    parsed = _tags(filename)
    return parsed is not None and is_pure(parsed[1])


def _majors(tags: Iterable[Tag]) -> set[str]:
    """Python major versions a tag set is for: py2.py3 -> {2, 3}, py312 / cp312 -> {3}."""
    return {t.interpreter.lstrip("abcdefghijklmnopqrstuvwxyz")[:1] for t in tags} - {""}


def _repaired(rebuilt: frozenset[Tag], candidate: frozenset[Tag]) -> bool:
    """The candidate is this linux rebuild as auditwheel would retag it (same interpreter and abi)."""
    for ours in rebuilt:
        if not ours.platform.startswith("linux_"):
            continue
        arch = ours.platform[len("linux_"):]
        for theirs in candidate:
            if ((theirs.interpreter, theirs.abi) == (ours.interpreter, ours.abi)
                    and theirs.platform.startswith(_REPAIRED_PREFIXES) and theirs.platform.endswith("_" + arch)):
                return True
    return False


def _kind(rebuilt_name: str, rebuilt: tuple[str, frozenset[Tag]], filename: str) -> MatchKind | None:
    parsed = _tags(filename)
    if parsed is None or parsed[0] != rebuilt[0]:
        return None
    ours, theirs = rebuilt[1], parsed[1]
    if filename == rebuilt_name:
        return "exact"
    if ours & theirs:
        return "tags"
    if is_pure(ours) and is_pure(theirs) and _majors(ours) & _majors(theirs):
        return "pure"
    if _repaired(ours, theirs):
        return "repaired"
    return None


def pick_wheel(rebuilt_name: str, published: Iterable[Artifact]) -> Match | None:
    """The published wheel to compare with: exact file name, then shared tags, then a compatible
    pure wheel (py3-none-any vs py2.py3-none-any), then an auditwheel-repaired one (not comparable).
    Among equals: not yanked, manylinux before musllinux, then by name."""
    rebuilt = _tags(rebuilt_name)
    if rebuilt is None:
        raise WheelUnreadable(rebuilt_name, "not a valid wheel file name")
    ranked = []
    for artifact in published:
        kind = _kind(rebuilt_name, rebuilt, artifact.filename)
        if kind is not None:
            ranked.append(((_RANK[kind], artifact.yanked, "musllinux" in artifact.filename, artifact.filename),
                           Match(artifact, kind)))
    return min(ranked, key=lambda pair: pair[0])[1] if ranked else None


def _python_files(wheel: Path) -> list[str]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return [name for name in archive.namelist() if name.endswith(".py")]
    except (zipfile.BadZipFile, OSError) as error:
        raise WheelUnreadable(str(wheel), f"not a zip archive ({error})") from None


def _not_comparable(rebuilt: Path, published: Path, match: Match, others: Iterable[Artifact] = ()) -> Upstream:
    """A repaired wheel cannot equal a plain linux build; say what auditwheel did and how far the
    Python files agree (a package with none says so rather than "0/0 identical")."""
    comparison = compare_wheels(rebuilt, published)
    python = [d for d in comparison.differences
              if d.path.endswith(".py") and d.kind in ("content", "added", "removed")]
    ours = _python_files(rebuilt)
    differing = {d.path for d in python if d.kind in ("content", "removed")}
    extra = sum(1 for d in python if d.kind == "added")
    try:
        repair = inspect_repaired(published)
    except (zipfile.BadZipFile, OSError) as error:
        raise WheelUnreadable(str(published), f"not a zip archive ({error})") from None
    many = repair.compiled != 1
    compiled = f"its {repair.compiled} compiled file{'s come' if many else ' comes'} from another compiler and C " \
        f"library, so {'they are' if many else 'it is'} not compared"
    if ours:
        same = len(ours) - len(differing)
        every = "the one Python file is identical" if len(ours) == 1 else f"all {len(ours)} Python files identical"
        files = every if same == len(ours) else f"{same} of {len(ours)} Python files identical, {len(differing)} differ"
    else:
        files = "it has no Python files to compare"
    tail = f"; {extra} Python file{'s' if extra != 1 else ''} only in the index's wheel" if extra else ""
    note = (f"the index's wheel was built for {_platforms(match.artifact.filename)} and repaired by auditwheel "
            f"({repair_words(repair)}), the rebuild is a plain {_platforms(rebuilt.name)} wheel built here: "
            f"{compiled}; {files}{tail}")
    return _upstream("not-comparable", match, published, note=note + _pure_too(others, rebuilt.name),
                     differences=tuple(python))


def pure_wheels(published: Iterable[Artifact], rebuilt: str) -> list[str]:
    """The index's pure wheels of the project, when the rebuild here is not pure (else none)."""
    ours = _tags(rebuilt)
    if ours is None or is_pure(ours[1]):
        return []
    found = []
    for artifact in published:
        theirs = _tags(artifact.filename)
        if theirs is not None and theirs[0] == ours[0] and is_pure(theirs[1]):
            found.append(artifact.filename)
    return sorted(found)


def _pure_too(published: Iterable[Artifact], rebuilt: str) -> str:
    """When the rebuild is compiled but the index also has a pure wheel: say so, and why it is not compared."""
    pure = pure_wheels(published, rebuilt)
    if not pure:
        return ""
    return (f"; the index also publishes a pure wheel, {pure[0]}, which this sdist builds here only as a compiled "
            "one (a pure build needs a switch of the project's own, an environment variable or config setting that "
            "no wheel records)")


def _platforms(filename: str) -> str:
    parsed = _tags(filename)
    return ".".join(sorted({t.platform for t in parsed[1]})) if parsed else filename


def _canonical(steps: Iterable[str]) -> tuple[str, ...]:
    chosen = set(steps)
    return tuple(step for step in ALL_STEPS if step in chosen)


def _dist_info(path: str) -> bool:
    return path.split("/", 1)[0].endswith(".dist-info")


def _generator(wheel: Path) -> str:
    """The WHEEL file's Generator (the build backend and its version), or ""."""
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if _dist_info(name) and name.endswith("/WHEEL") and name.count("/") == 1:
                for line in archive.read(name).decode("utf-8", "replace").splitlines():
                    if line.lower().startswith("generator:"):
                        return line.split(":", 1)[1].strip()
    return ""


def different_note(differences: Iterable[Difference], ours: Path, theirs: Path) -> str:
    """One line: which members differ, whether only metadata does, and which backends made each."""
    differences = list(differences)
    # RECORD differs whenever a member it lists does; it is named only when nothing else is
    members = sorted({d.path for d in differences if d.path and d.cause != "derived"}) or \
        sorted({d.path for d in differences if d.path})
    shown = ", ".join(members[:NOTE_MEMBERS]) + (f" (+{len(members) - NOTE_MEMBERS} more)" if len(members) > NOTE_MEMBERS else "")
    note = f"after normalising, {len(members)} member{'s' if len(members) != 1 else ''} differ: {shown}" if members \
        else "after normalising, the archives still differ"
    if members and all(_dist_info(m) for m in members):
        with zipfile.ZipFile(ours) as archive:
            files = [n for n in archive.namelist() if not n.endswith("/") and not _dist_info(n)]
        others = "the 1 other file is" if len(files) == 1 else f"all {len(files)} other files are"
        note += f"; only metadata: {others} identical"
    made_here, made_there = _generator(ours), _generator(theirs)
    if made_here != made_there:
        note += f"; made by {made_here or 'an unnamed backend'} here, {made_there or 'an unnamed backend'} for the index"
    return note + " (A = the rebuild, B = the index's wheel)"


def classify(rebuilt: Path, published: Path, match: Match, scratch: Path, others: Iterable[Artifact] = ()) -> Upstream:
    """Compare the rebuilt wheel with the fetched published one; ``scratch`` holds the normalised copies;
    ``others`` are the release's other wheels (named in a not-comparable note)."""
    # fetch_artifact already checked the published file against the index's digest
    if sha256_of(rebuilt) == (match.artifact.sha256 or sha256_of(published)):
        return _upstream("identical", match, published, note="the same bytes")
    if not match.comparable:
        return _not_comparable(rebuilt, published, match, others)
    ours, theirs = scratch / f"rebuilt-{rebuilt.name}", scratch / f"published-{published.name}"
    with ThreadPoolExecutor(max_workers=2) as pool:  # inflate, sha256 and crc32 release the GIL
        both = [pool.submit(normalize, rebuilt, ours), pool.submit(normalize, published, theirs)]
        passes = _canonical(both[0].result() + both[1].result())
    if filecmp.cmp(ours, theirs, shallow=False):
        applied = ", ".join(passes) or "only zip header fields a rewrite sets (version made by, flags)"
        return _upstream("equivalent", match, published, passes=passes,
                         note=f"the same files; only zip metadata differs ({applied})")
    comparison = compare_wheels(ours, theirs)
    note = different_note(comparison.differences, ours, theirs)
    return _upstream("different", match, published, passes=passes, differences=comparison.differences, note=note)


def _upstream(status: str, match: Match, published: Path | None, **fields) -> Upstream:
    artifact = match.artifact
    sha = artifact.sha256 or (sha256_of(published) if published else None)
    note = fields.pop("note", "")
    if artifact.yanked:
        note = f"{note}; the index's wheel is yanked".lstrip("; ")
    return Upstream(status=status, wheel=artifact.filename, url=artifact.url, sha256=sha, note=note, **fields)


def check_upstream(client: Client, release: Release, rebuilt: Path, store: Path, scratch: Path) -> Upstream:
    """The ``upstream`` record for a rebuilt wheel of ``release``; never raises a PipelineError.

    The published wheel is fetched into ``store`` (content-addressed, digest verified); the
    normalised copies live in a temporary folder under ``scratch`` and are removed afterwards.
    """
    rebuilt = Path(rebuilt)
    try:
        match = pick_wheel(rebuilt.name, release.wheels)
    except PipelineError as error:
        return Upstream("not-checked", note=str(error))
    if match is None:
        others = f"; it publishes {len(release.wheels)} other wheel(s)" if release.wheels else ""
        pure = pure_wheels(release.wheels, rebuilt.name)
        if pure:
            others += f", among them a pure one, {pure[0]}, which this sdist does not build here"
        tags = "-".join(rebuilt.name.removesuffix(".whl").split("-")[-3:])
        return Upstream("no-wheel", note=f"the index publishes no {tags} wheel for {release.name} {release.version}{others}")
    if not match.artifact.sha256:
        return _upstream("not-checked", match, None,
                         note="the index publishes no sha256 for this wheel, so its bytes cannot be verified")
    try:
        published = fetch_artifact(client, match.artifact, store)
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=scratch, prefix="upstream-") as folder:
            return classify(rebuilt, published, match, Path(folder), release.wheels)
    except PipelineError as error:  # network, digest, unreadable zip: no verdict, the reason kept
        return _upstream("not-checked", match, None, note=str(error))
