"""Rebuild from a record with its exact interpreter, locks, sdist and controls; is the wheel the recorded one?

A record is a stranger's JSON (a ``--json`` file, the store's export, the site's API), so it is read
under a size cap, parsed as data only, and every field a rebuild uses is checked before anything
is fetched: names and versions (packaging), each lock line (``name==version --hash=sha256:<64 hex>``),
the sdist's digest and URL (a record read over http may point only at http(s) files), the controls.
The rebuild is a check like any other (two controlled builds, sandboxed), made with the record's
locks instead of a fresh resolution (:class:`~pipeline.engine.prepare.Locks`); uv installs them in
hash-checking mode, so a lock line whose hash is not the file's is refused, naming the line.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from packaging.utils import (InvalidSdistFilename, InvalidVersion, canonicalize_name, canonicalize_version,
                             parse_sdist_filename)
from packaging.version import Version

from ..errors import DigestMismatch, InvalidRecords, PipelineError, RebuildUnavailable, RecordRefused, WheelUnreadable
from ..explain import compare_wheels
from ..records import VERIFIABLE, Artifact, Result, Verification, results_from_json, sortable_utc
from .build import CONTROLS
from .fetch import add_local, fetch_artifact, filename_problem, is_sha256, sha256_of
from .interpreters import Interpreter, discover, probe
from .net import Client, MiB
from .outcome import Draft
from .prepare import Locks
from .target import Target

if TYPE_CHECKING:
    from .check import Checker

#: a record file is refused past this (the site's largest per-project JSON is far smaller)
RECORD_CAP = 32 * MiB
LOCK_LINE = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==(\S+) --hash=sha256:([0-9a-f]{64})")
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
_EXACT = re.compile(r"\d\.\d{1,2}\.\d{1,3}")
_TAG = re.compile(r"cp(\d)(\d{1,2})(t?)")
#: what uv says when a downloaded file is not the one a hash names (``--require-hashes``)
_HASH_MISMATCH = re.compile(r"[Hh]ash mismatch for `([^`\s]+)`(?:\s+Expected:\s+sha256:[0-9a-f]{64})?"
                            r"(?:\s+Computed:\s+sha256:([0-9a-f]{64}))?")
#: what it says when no source has the pinned version
_NOT_FOUND = re.compile(r"there is no version of ([A-Za-z0-9][A-Za-z0-9._-]*==[^\s,`]+)")


def is_remote(source: str) -> bool:
    return urllib.parse.urlsplit(source).scheme in ("http", "https")


def read_records(source: str, client: Client) -> list[Result]:
    """The records in a FILE or at a URL (a JSON list, or an object with a ``results`` list)."""
    if "://" in source:
        response = client.get(source, accept="application/json")
        if response.status != 200:
            raise InvalidRecords(source, f"HTTP {response.status}")
        body = response.body
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidRecords(source, "no such file")
        if path.stat().st_size > RECORD_CAP:
            raise InvalidRecords(source, f"over the {RECORD_CAP // MiB} MiB cap for a record file")
        with open(path, "rb") as handle:
            body = handle.read(RECORD_CAP + 1)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRecords(source, f"not JSON: {error}") from None
    except RecursionError:
        raise InvalidRecords(source, "not JSON a record can be: nested too deep") from None
    if isinstance(payload, dict) and "results" not in payload and "status" in payload:
        payload = [payload]  # one record on its own (a wheelhouse's result.json)
    records = list(results_from_json(payload, source))
    if not records:
        raise InvalidRecords(source, "it holds no records")
    for number, record in enumerate(records):  # the fields records are picked and named by are text
        for field in ("name", "version", "python", "interpreter", "finished", "index_url"):
            if not isinstance(getattr(record, field), str):
                raise InvalidRecords(source, f"record {number}: {field} is not a string")
    return records


def select(records: Sequence[Result], wanted: Sequence[str], pythons: Sequence[str]) -> list[Result]:
    """The records to rebuild: those ``wanted`` names (NAME or NAME==VERSION) and ``pythons`` (X.Y or
    X.Y.Z) pick, or all; for each (name, version, interpreter) the newest that can be verified (else the
    newest, to be refused with its status)."""
    def picked(r: Result) -> bool:
        for want in wanted:
            name, _, version = want.partition("==")
            same_version = not version or _same_version(version, r.version)
            if canonicalize_name(name) == canonicalize_name(r.name) and same_version:
                break
        else:
            if wanted:
                return False
        minor = ".".join(r.python.split(".")[:2])
        return not pythons or any(p in (r.python, minor) for p in pythons)

    newest: dict[tuple[str, str, str], Result] = {}
    for r in records:
        if not picked(r):
            continue
        key, held = r.key, newest.get(r.key)
        if held is None or _rank(r) > _rank(held):
            newest[key] = r
    return [newest[key] for key in sorted(newest)]


def _rank(r: Result) -> tuple[bool, str]:
    """A verdict with a wheel before anything else, then the newest."""
    return r.status in VERIFIABLE, _stamp(r.finished)


def _same_version(a: str, b: str) -> bool:
    try:
        return canonicalize_version(a) == canonicalize_version(b)
    except InvalidVersion:
        return a == b


def _stamp(text: str) -> str:
    try:
        return sortable_utc(text)
    except ValueError:
        return ""


@dataclass(frozen=True)
class Plan:
    """A record checked and ready to rebuild: its locks and the sha256 its controlled builds had."""

    record: Result
    locks: Locks
    recorded: tuple[str, ...]


def lock_line(line: object, which: str) -> str:
    """A lock line as ``name==version --hash=sha256:<64 hex>`` (names and versions packaging accepts)."""
    match = LOCK_LINE.fullmatch(line) if isinstance(line, str) else None
    if match:
        try:
            Version(match.group(2))
            return line
        except InvalidVersion:
            pass
    raise RecordRefused(f"the {which} lock line {str(line)[:200]!r}", "not NAME==VERSION --hash=sha256:<64 hex digits>")


def plan(record: Result, remote: bool) -> Plan:
    """Check everything a rebuild would use (RecordRefused, before anything is fetched or built).

    ``remote``: the record was read over http(s), so it may name only http(s) files and indexes.
    """
    what = "the record"
    if record.status not in VERIFIABLE:
        raise RecordRefused(what, f"nothing to verify: the record is {record.status!r}, not a wheel built twice"
                            + (f" ({record.message[:200]})" if record.message else ""))
    name = record.name if isinstance(record.name, str) and _NAME.fullmatch(record.name) else ""
    if not name or canonicalize_name(name) != name:
        raise RecordRefused(what, f"the name {str(record.name)[:100]!r} is not a canonical project name")
    try:
        Version(record.version)
    except (InvalidVersion, TypeError):
        raise RecordRefused(what, f"the version {str(record.version)[:100]!r} is not a version") from None
    tag = _TAG.fullmatch(record.interpreter)
    if not _EXACT.fullmatch(record.python) or not tag or \
            ".".join(record.python.split(".")[:2]) != f"{tag.group(1)}.{tag.group(2)}":
        raise RecordRefused(what, f"python {record.python[:20]!r} and interpreter {record.interpreter[:20]!r} are "
                            "not an exact CPython version (X.Y.Z) and its tag")
    recorded = tuple(dict.fromkeys(b.sha256 for b in record.builds if not b.variations and b.sha256))
    if not recorded or not all(isinstance(s, str) and is_sha256(s) for s in recorded):
        raise RecordRefused(what, "its controlled builds record no wheel sha256 (64 hex digits)")
    env = record.environment
    if env is None or not env.toolchain:
        raise RecordRefused(what, "it records no environment with a toolchain lock")
    toolchain = tuple(lock_line(line, "toolchain") for line in env.toolchain)
    build = tuple(lock_line(line, "build") for line in env.requirements)
    sdist = record.sdist
    if sdist is None or not isinstance(sdist.sha256, str) or not is_sha256(sdist.sha256):
        raise RecordRefused(what, "it records no sdist sha256 (64 hex digits)")
    problem = filename_problem(sdist.filename)
    try:
        named, version = parse_sdist_filename(sdist.filename) if not problem else ("", "")
    except InvalidSdistFilename:
        problem = "it is not named like an sdist"
    if problem or canonicalize_name(named) != name or str(version) != str(Version(record.version)):
        raise RecordRefused(what, f"the sdist {str(sdist.filename)[:100]!r} is not {record.name} {record.version}'s"
                            + (f": {problem}" if problem else ""))
    for label, url in (("sdist URL", sdist.url), ("index URL", record.index_url)):
        scheme = urllib.parse.urlsplit(url).scheme if isinstance(url, str) else ""
        if (label == "index URL" and not url) or (scheme in ("http", "https")) or (scheme == "file" and not remote):
            continue
        raise RecordRefused(what, f"its {label} {str(url)[:200]!r} is not "
                            + ("an http(s) URL (a record read over http may not name local files)" if remote
                               else "an http(s) or file URL"))
    controls = {k: v for k, v in record.controls.items() if k != "pair"}
    if controls != dict(CONTROLS):
        changed = [f"{k}={str(v)[:40]}" for k, v in sorted(controls.items(), key=str) if CONTROLS.get(k) != v]
        changed += [f"{k} unset" for k in CONTROLS if k not in controls]
        raise RebuildUnavailable("the record's controls are not this tool's (" + ", ".join(changed[:6])[:300] + ")")
    return Plan(record, Locks(toolchain=toolchain, build=build), recorded)


def exact_interpreter(python: str, tag: str, prober: Callable[[str], Interpreter | None] = probe) -> Interpreter:
    """The interpreter the record names, exactly (X.Y.Z, and free-threaded or not), else RebuildUnavailable."""
    selector = ".".join(python.split(".")[:2]) + ("t" if tag.endswith("t") else "")
    seen: list[str] = []

    def exactly(path: str) -> Interpreter | None:
        found = prober(path)
        if found is None or found.selector != selector:
            return None
        seen.append(found.version)
        return found if found.version == python else None

    match = discover([selector], prober=exactly).found
    if match:
        return match[0]
    has = f"this machine has {', '.join(sorted(set(seen)))}" if seen else f"this machine has no CPython {selector}"
    raise RebuildUnavailable(f"record built with CPython {python} ({tag}), {has}")


def recorded_wheel(record: Result, recorded: tuple[str, ...], out: Path, client: Client, remote: bool,
                   store: Path) -> Path | None:
    """The recorded wheel's bytes, when at hand: kept under this ``out`` by the run that made the record,
    or the index's wheel when the record says it has the recorded sha256.  Copied into ``store`` by
    digest (a rebuild of the same release empties the kept folder)."""
    builds_root = (out / "builds").resolve()
    for build in record.builds:
        if build.sha256 not in recorded or not isinstance(build.path, str) or not build.path or build.variations:
            continue
        path = Path(build.path)
        try:
            inside = path.resolve().is_relative_to(builds_root) and not path.is_symlink() and path.is_file()
            if inside and sha256_of(path) == build.sha256:
                return add_local(path, store)[0]
        except OSError:
            continue
    upstream = record.upstream
    if upstream and upstream.sha256 in recorded and isinstance(upstream.url, str) and isinstance(upstream.wheel, str):
        scheme = urllib.parse.urlsplit(upstream.url).scheme
        if scheme in ("http", "https") or (scheme == "file" and not remote):
            try:
                return fetch_artifact(client, Artifact(upstream.wheel, upstream.url, upstream.sha256), store)
            except PipelineError:
                return None
    return None


def sdist_target(plan: Plan, client: Client, store: Path) -> Target:
    """The recorded sdist, fetched and checked against the recorded sha256 (RecordRefused when it is not)."""
    record = plan.record
    try:
        path = fetch_artifact(client, record.sdist, store)
    except DigestMismatch as error:
        reason = f"the file fetched has sha256 {error.actual}, not the recorded {record.sdist.sha256}"
        raise RecordRefused(f"the sdist {record.sdist.filename}", reason) from None
    except PipelineError as error:
        raise RebuildUnavailable(f"the sdist cannot be fetched: {error}") from None
    return Target(record.name, record.version, record.sdist, path, f"{record.name}=={record.version}")


def environment_refusal(plan: Plan, log_text: str) -> PipelineError | None:
    """What uv's log says about the record's locks when the environment could not be made: a lock line
    whose hash is not the file's (refused), or one no source has (unavailable)."""
    lines = plan.locks.toolchain + plan.locks.build
    by_pin = {_pin(line): line for line in lines}
    for match in _HASH_MISMATCH.finditer(log_text):
        line = by_pin.get(_pin(match.group(1)))
        if line:
            computed = f"sha256 {match.group(2)}" if match.group(2) else "another sha256"
            return RecordRefused(f"the lock line {line!r}", f"the file the index (or --find-links) serves for it "
                                 f"has {computed} (uv's hash check failed)")
    for match in _NOT_FOUND.finditer(log_text):
        line = by_pin.get(_pin(match.group(1)))
        if line:
            return RebuildUnavailable(f"{line} is on neither the index nor --find-links")
    return None


def _pin(text: str) -> tuple[str, str]:
    name, _, version = text.split(" ", 1)[0].partition("==")
    try:
        return canonicalize_name(name), canonicalize_version(version)
    except InvalidVersion:
        return canonicalize_name(name), version


def verdict(plan: Plan, source: str, rebuild: Result, recorded_path: Path | None) -> Verification:
    """The rebuild against the record: verified, differs (with the member diff when the recorded wheel is
    at hand) or unavailable (no wheel was made)."""
    record = plan.record
    base = Verification("unavailable", source, plan.recorded, fingerprint=record.environment.fingerprint,
                        finished=record.finished, notes=_input_notes(record, rebuild))
    wheels = [b for b in rebuild.builds if not b.variations]
    rebuilt = wheels[0].sha256 if wheels and wheels[0].sha256 else None
    if rebuilt is None:
        return dataclasses.replace(base, reason=f"the rebuild made no wheel ({rebuild.status}: {rebuild.message})")
    if any(b.sha256 in plan.recorded for b in wheels):
        hit = next(b.sha256 for b in wheels if b.sha256 in plan.recorded)
        return dataclasses.replace(base, status="verified", rebuilt=hit)
    differences = ()
    reason = f"rebuilt sha256 {rebuilt}, recorded {', '.join(plan.recorded)}"
    if recorded_path is None:
        reason += "; the recorded wheel is not at hand, so its members are not compared"
    elif wheels[0].path:
        try:
            differences = compare_wheels(recorded_path, Path(wheels[0].path)).differences
        except WheelUnreadable as error:
            reason += f"; not compared member by member: {error}"
    return dataclasses.replace(base, status="differs", rebuilt=rebuilt, reason=reason, differences=differences)


def _input_notes(record: Result, rebuild: Result) -> tuple[str, ...]:
    """What besides the locks differs between the record's environment and the rebuild's (interpreter
    build, compilers, layout): a ``differs`` may come from there."""
    if rebuild.environment is None or record.environment is None:
        return ()
    before, now = record.environment.inputs, rebuild.environment.inputs
    notes = [f"{key}: recorded {before.get(key, '(none)')!r}, here {now.get(key, '(none)')!r}"[:300]
             for key in sorted(set(before) | set(now)) if before.get(key) != now.get(key)]
    if rebuild.environment.toolchain != record.environment.toolchain or \
            rebuild.environment.requirements != record.environment.requirements:
        notes.append("the rebuild's locks are not the record's")  # a bug if ever seen: the locks are passed as given
    return tuple(notes)


#: how much of the environment log is read for uv's reason (its last part)
LOG_TAIL = 1 * MiB


def rebuild(checker: Checker, plan: Plan, source: str, reproduce: str,
            find: Callable[[str, str], Interpreter] = exact_interpreter) -> Result:
    """The rebuild's record, its ``verification`` saying how it compares with the record.

    A refusal or an unavailable environment is an ``error`` record (never a verdict): nothing is built.
    """
    record = plan.record
    draft = Draft(record.name, record.version, record.python, record.interpreter, reproduce, sdist=record.sdist,
                  index_url=checker.options.index_url)
    try:
        interpreter = find(record.python, record.interpreter)
        target = sdist_target(plan, checker.client, checker.workspace.sdists)
        # before the check empties the kept folder the record's own wheel may sit in
        recorded_path = recorded_wheel(record, plan.recorded, checker.workspace.out, checker.client,
                                       is_remote(source), checker.workspace.wheels_cache)
    except (RecordRefused, RebuildUnavailable) as error:
        return draft.finish("error", message=str(error), verification=_failed(plan, source, error))
    result = dataclasses.replace(checker.check(target, interpreter, plan.locks), reproduce=reproduce,
                                 index_url=checker.options.index_url)
    if result.status == "error":
        log = checker.workspace.result_dir(record.name, record.version, interpreter.tag) / "environment.log"
        refusal = environment_refusal(plan, _tail(log)) or RebuildUnavailable(
            f"the rebuild could not be made: {result.message}")
        return dataclasses.replace(result, message=str(refusal), verification=_failed(plan, source, refusal))
    return dataclasses.replace(result, verification=verdict(plan, source, result, recorded_path))


def _failed(plan: Plan, source: str, error: PipelineError) -> Verification:
    record = plan.record
    return Verification("refused" if isinstance(error, RecordRefused) else "unavailable", source, plan.recorded,
                        fingerprint=record.environment.fingerprint if record.environment else "",
                        finished=record.finished, reason=str(error))


def refused(record: Result, source: str, error: PipelineError, reproduce: str) -> Result:
    """The ``error`` record of a record refused before anything was fetched (:func:`plan` failed)."""
    status = "refused" if isinstance(error, RecordRefused) else "unavailable"
    fingerprint = record.environment.fingerprint if record.environment else ""
    verification = Verification(status, source, fingerprint=fingerprint, finished=record.finished, reason=str(error))
    draft = Draft(str(record.name)[:200], str(record.version)[:200], str(record.python)[:20],
                  str(record.interpreter)[:20], reproduce)
    return draft.finish("error", message=str(error), verification=verification)


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL))
            return handle.read(LOG_TAIL).decode("utf-8", "replace")
    except OSError:
        return ""
