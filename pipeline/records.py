"""The records every stage passes on: frozen dataclasses with to_json()/from_json().

The JSON form of :class:`Result` is the public API (see ``docs/schema.md``).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Mapping, get_args

from .errors import InvalidRecords

SCHEMA_VERSION = 1

Status = Literal["reproducible", "unreproducible", "build-failed", "timeout", "no-sdist", "not-applicable", "error"]
STATUSES: tuple[str, ...] = get_args(Status)
#: statuses that are a verdict on the package (``error`` is the tracker's own failure;
#: ``not-applicable`` says the release's Requires-Python excludes the interpreter: nothing was built)
VERDICTS: tuple[str, ...] = ("reproducible", "unreproducible", "build-failed", "timeout", "no-sdist")
#: the verdicts a record can be rebuilt and verified from (a wheel was built twice): ``check --from-record``
VERIFIABLE: tuple[str, ...] = ("reproducible", "unreproducible")
NOT_APPLICABLE = "not-applicable"
#: the index a record names when it names PyPI (``index_url``), and the default index
PYPI_SIMPLE = "https://pypi.org/simple/"

Variation = Literal[
    "build_path", "time", "timezone", "locale", "umask", "hostname", "hash_seed", "home", "user", "cpu_count",
    "file_order", "kernel", "exec_path", "domain", "aslr", "environment",
]
VARIATIONS: tuple[str, ...] = get_args(Variation)
VariationOutcome = Literal["same", "differs", "not-tested"]

UpstreamStatus = Literal["identical", "equivalent", "different", "no-wheel", "not-comparable", "not-checked"]
UPSTREAM_STATUSES: tuple[str, ...] = get_args(UpstreamStatus)
#: the index's wheel verified from its sdist
UPSTREAM_REPRODUCED: tuple[str, ...] = ("identical", "equivalent")
#: how the rebuild compared with the index's wheel was made (docs/upstream.md)
ToolchainStatus = Literal["matched", "not-needed", "not-inferred", "failed"]
TOOLCHAIN_STATUSES: tuple[str, ...] = get_args(ToolchainStatus)


def utcnow() -> str:
    """The stamp ``started``/``finished`` carry: UTC, to the second, with a Z."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@functools.lru_cache(maxsize=262144)
def sortable_utc(stamp: str) -> str:
    """An ISO 8601 time as UTC with microseconds, so "…Z", "…+00:00" and other offsets sort right.

    "" (unknown) stays "" and sorts oldest; ValueError when ``stamp`` is not ISO 8601 (records are
    checked when read, so a stored one always is); a time without an offset is taken as UTC.
    """
    if not stamp:
        return ""
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


@dataclass(frozen=True)
class Artifact:
    """A file an index publishes (an sdist or a wheel).

    ``refused`` says why the index's entry for it cannot be used (a URL the index may not point at,
    a malformed digest...): such a file is never fetched, and checking it is an ``error``.
    """

    filename: str
    url: str
    sha256: str | None
    size: int | None = None
    upload_time: str | None = None
    yanked: bool = False
    refused: str | None = None
    #: the index's Requires-Python for this file (PEP 503 data-requires-python, PEP 691 requires-python)
    requires_python: str | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none({"filename": self.filename, "url": self.url, "sha256": self.sha256, "size": self.size,
                           "upload_time": self.upload_time, "yanked": self.yanked, "refused": self.refused,
                           "requires_python": self.requires_python})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Artifact:
        return cls(
            filename=data["filename"],
            url=data["url"],
            sha256=data.get("sha256"),
            size=data.get("size"),
            upload_time=data.get("upload_time"),
            yanked=bool(data.get("yanked", False)),
            refused=data.get("refused"),
            requires_python=data.get("requires_python"),
        )


@dataclass(frozen=True)
class Release:
    """One version of a project as an index lists it.

    ``requires_python`` is the release's Requires-Python: from the index, else from the sdist's
    PKG-INFO; "" when it declares none, None while nobody has looked.
    """

    name: str
    version: str
    sdist: Artifact | None
    wheels: tuple[Artifact, ...] = ()
    index_url: str = ""
    requires_python: str | None = None


@dataclass(frozen=True)
class Environment:
    """The exact build environment: interpreter + pinned toolchain + the package's build lock.

    ``base`` fingerprints interpreter + compilers + toolchain only (known before any resolution);
    ``fingerprint`` covers everything, including the package's build requirements and ``inputs``:
    what besides the locks changes bytes (interpreter build and digests, compilers, path layout).
    """

    fingerprint: str
    base: str
    python: str
    interpreter: str
    toolchain: tuple[str, ...]
    requirements: tuple[str, ...]
    path: str
    inputs: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "base": self.base,
            "python": self.python,
            "interpreter": self.interpreter,
            "lock": {"toolchain": list(self.toolchain), "build": list(self.requirements)},
            "path": self.path,
            "inputs": dict(self.inputs),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Environment:
        lock = data.get("lock", {})
        return cls(
            fingerprint=data["fingerprint"],
            base=data.get("base", ""),
            python=data.get("python", ""),
            interpreter=data.get("interpreter", ""),
            toolchain=tuple(lock.get("toolchain", ())),
            requirements=tuple(lock.get("build", ())),
            path=data.get("path", ""),
            inputs=dict(data.get("inputs", {})),
        )


@dataclass(frozen=True)
class Build:
    """One build of the wheel.  ``variations`` is empty for a controlled build."""

    wheel: str | None
    sha256: str | None
    seconds: float
    path: str | None
    log: str | None
    returncode: int | None
    build_dir: str
    variations: tuple[str, ...] = ()
    timed_out: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"wheel": self.wheel, "sha256": self.sha256, "seconds": round(self.seconds, 3), "path": self.path,
                "log": self.log, "returncode": self.returncode, "build_dir": self.build_dir,
                "variations": list(self.variations), "timed_out": self.timed_out}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Build:
        return cls(
            wheel=data.get("wheel"),
            sha256=data.get("sha256"),
            seconds=float(data.get("seconds", 0.0)),
            path=data.get("path"),
            log=data.get("log"),
            returncode=data.get("returncode"),
            build_dir=data.get("build_dir", ""),
            variations=tuple(data.get("variations", ())),
            timed_out=bool(data.get("timed_out", False)),
        )


@dataclass(frozen=True)
class Difference:
    """One way two wheels differ.

    ``path`` is the member ("" for the archive itself); ``kind`` what differs (``added``,
    ``removed``, ``content``, ``timestamp``, ``mode``, ``order``, ``compression``, ...);
    ``cause`` a word from the cause taxonomy (docs/causes.md) or None when not yet explained.
    """

    path: str
    kind: str
    detail: str = ""
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"path": self.path, "kind": self.kind, "detail": self.detail}
        if self.cause is not None:
            data["cause"] = self.cause
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Difference:
        return cls(path=data["path"], kind=data["kind"], detail=data.get("detail", ""), cause=data.get("cause"))


@dataclass(frozen=True)
class Toolchain:
    """The toolchain inferred from the index's wheel, and the extra rebuild made with it.

    ``status``: ``matched`` (the comparison is with a rebuild in this toolchain), ``not-needed``
    (the controlled rebuild was already identical), ``not-inferred`` (nothing trustworthy to infer
    or resolve: ``reason``), ``failed`` (inferred, but the rebuild could not be made: ``reason``).
    Unless ``matched``, the comparison is with the controlled rebuild.  ``today`` is how the
    controlled rebuild (today's toolchain) compared.
    """

    status: ToolchainStatus
    reason: str = ""
    generator: str = ""  # WHEEL's Generator line, as read
    metadata_version: str = ""  # METADATA's Metadata-Version, as read
    backend: str = ""  # the PyPI project pinned
    version: str = ""
    source: str = ""  # where backend and version were read
    requirements: tuple[str, ...] = ()  # what was resolved: the sdist's requires, the pin, the guesses
    guessed: tuple[str, ...] = ()  # requirements the Generator implies but does not prove
    cutoff: str = ""  # everything but the pin as uploaded before this (the wheel's upload time)
    cutoff_source: str = ""
    resolver: str = ""
    lock: tuple[str, ...] = ()
    fingerprint: str = ""  # of the environment the rebuild used
    source_date_epoch: str | None = None  # None: unset for the rebuild
    timestamps: str = ""  # the rule that chose source_date_epoch
    notes: tuple[str, ...] = ()
    today: str = ""
    build: Build | None = None
    config_settings: tuple[str, ...] = ()  # -C options the rebuild passed to the frontend
    #: NAME=value the rebuild set beyond the controls (a switch of the sdist's own, e.g. for a pure build)
    env_vars: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status, "reason": self.reason, "generator": self.generator,
            "metadata_version": self.metadata_version, "backend": self.backend, "version": self.version,
            "source": self.source, "requirements": list(self.requirements), "guessed": list(self.guessed),
            "cutoff": self.cutoff, "cutoff_source": self.cutoff_source, "resolver": self.resolver,
            "lock": list(self.lock), "fingerprint": self.fingerprint, "source_date_epoch": self.source_date_epoch,
            "timestamps": self.timestamps, "notes": list(self.notes), "today": self.today,
            "build": self.build.to_json() if self.build else None, "config_settings": list(self.config_settings),
            "env_vars": list(self.env_vars),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Toolchain:
        if data.get("status") not in TOOLCHAIN_STATUSES:
            raise ValueError(f"unknown toolchain status {data.get('status')!r}")
        text = {k: str(data.get(k) or "") for k in ("reason", "generator", "metadata_version", "backend", "version",
                                                     "source", "cutoff", "cutoff_source", "resolver", "fingerprint",
                                                     "timestamps", "today")}
        return cls(
            status=data["status"], requirements=tuple(data.get("requirements", ())),
            guessed=tuple(data.get("guessed", ())), lock=tuple(data.get("lock", ())),
            source_date_epoch=data.get("source_date_epoch"), notes=tuple(data.get("notes", ())),
            config_settings=tuple(data.get("config_settings", ())), env_vars=tuple(data.get("env_vars", ())),
            build=Build.from_json(data["build"]) if data.get("build") else None, **text,
        )


@dataclass(frozen=True)
class Upstream:
    """How the rebuilt wheel compares with the wheel the index publishes.

    ``toolchain`` (None in records made before it existed) says which rebuild was compared: one
    made with the toolchain inferred from the index's wheel, or the controlled one.
    """

    status: UpstreamStatus
    wheel: str | None = None
    url: str | None = None
    sha256: str | None = None
    passes: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()
    note: str = ""
    toolchain: Toolchain | None = None

    @property
    def reproduced(self) -> bool:
        """The index's wheel is verified from its sdist (identical, or equivalent)."""
        return self.status in UPSTREAM_REPRODUCED

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "status": self.status,
                "wheel": self.wheel,
                "url": self.url,
                "sha256": self.sha256,
                "passes": list(self.passes),
                "differences": [d.to_json() for d in self.differences],
                "note": self.note,
                "toolchain": self.toolchain.to_json() if self.toolchain else None,
            }
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Upstream:
        return cls(
            status=data["status"],
            wheel=data.get("wheel"),
            url=data.get("url"),
            sha256=data.get("sha256"),
            passes=tuple(data.get("passes", ())),
            differences=tuple(Difference.from_json(d) for d in data.get("differences", ())),
            note=data.get("note", ""),
            toolchain=Toolchain.from_json(data["toolchain"]) if data.get("toolchain") else None,
        )


@dataclass(frozen=True)
class Agreement:
    """Whether every interpreter that built a release's pure wheel (py3-none-any) built the same bytes.

    Derived from several results (see ``pipeline/agreement.py``): ``wheels`` maps interpreter to the
    sha256 it built; when they differ, ``reasons`` names the lock lines that differed between the
    environments and ``differences`` the wheel members that differ (when the wheels were at hand).
    """

    status: Literal["same", "differs"]
    wheels: Mapping[str, str]
    reasons: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "wheels": dict(self.wheels), "reasons": list(self.reasons),
                "differences": [d.to_json() for d in self.differences]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Agreement:
        return cls(status=data["status"], wheels=dict(data.get("wheels", {})),
                   reasons=tuple(data.get("reasons", ())),
                   differences=tuple(Difference.from_json(d) for d in data.get("differences", ())))


VerificationStatus = Literal["verified", "differs", "unavailable", "refused"]
VERIFICATION_STATUSES: tuple[str, ...] = get_args(VerificationStatus)


@dataclass(frozen=True)
class Verification:
    """A rebuild from an earlier record (``check --from-record``) against that record.

    ``status``: ``verified`` (a rebuilt wheel has a sha256 the record's controlled builds have),
    ``differs`` (it does not: ``differences`` are the members, when the recorded wheel was at hand),
    ``unavailable`` (what the record was built with is not here, or the rebuild made no wheel),
    ``refused`` (the record, a lock line or the sdist does not check out: nothing was built).
    ``record`` is where the record was read, ``finished`` and ``fingerprint`` say which record it is.
    """

    status: VerificationStatus
    record: str
    recorded: tuple[str, ...] = ()  # the sha256 of the record's controlled builds
    rebuilt: str | None = None  # the sha256 of the rebuild's first wheel
    fingerprint: str = ""  # the record's environment fingerprint
    finished: str = ""  # the record's finished stamp
    reason: str = ""
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "record": self.record, "recorded": list(self.recorded),
                "rebuilt": self.rebuilt, "fingerprint": self.fingerprint, "finished": self.finished,
                "reason": self.reason, "differences": [d.to_json() for d in self.differences],
                "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verification:
        if data.get("status") not in VERIFICATION_STATUSES:
            raise ValueError(f"unknown verification status {data.get('status')!r}")
        return cls(status=data["status"], record=str(data.get("record", "")),
                   recorded=tuple(data.get("recorded", ())), rebuilt=data.get("rebuilt"),
                   fingerprint=str(data.get("fingerprint", "")), finished=str(data.get("finished", "")),
                   reason=str(data.get("reason", "")),
                   differences=tuple(Difference.from_json(d) for d in data.get("differences", ())),
                   notes=tuple(data.get("notes", ())))


@dataclass(frozen=True)
class Isolation:
    """How the builds were confined: ``sandbox`` names the tool ("none" when unsandboxed)."""

    sandbox: str
    offline: bool
    user: str = ""
    limits: str = ""  # how each build was bounded: its own cgroup, or per-process limits and why

    def to_json(self) -> dict[str, Any]:
        return {"sandbox": self.sandbox, "offline": self.offline, "user": self.user, "limits": self.limits}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Isolation:
        return cls(sandbox=data.get("sandbox", "none"), offline=bool(data.get("offline")), user=data.get("user", ""),
                   limits=data.get("limits", ""))


@dataclass(frozen=True)
class Result:
    """One (project, version, interpreter) check: the unit the store keeps and the site shows.

    :meth:`to_json` is the one serializer (the site writes every attempt through it, so it builds
    plain dicts by hand: ``dataclasses.asdict`` deep-copies and costs about ten times more).
    """

    name: str
    version: str
    python: str
    interpreter: str
    status: Status
    started: str
    finished: str
    reproduce: str
    sdist: Artifact | None = None
    environment: Environment | None = None
    builds: tuple[Build, ...] = ()
    differences: tuple[Difference, ...] = ()
    variations: Mapping[str, VariationOutcome] = field(default_factory=dict)
    sensitive_to: tuple[str, ...] = ()
    #: how the build with every applicable variation differs from the controlled wheel (``--vary``)
    variation_differences: tuple[Difference, ...] = ()
    upstream: Upstream | None = None
    isolation: Isolation | None = None
    controls: Mapping[str, str] = field(default_factory=dict)
    index_url: str = ""
    message: str = ""
    diffoscope: str | None = None
    tracker: str = ""
    #: the release's Requires-Python as the check saw it (None: it declares none)
    requires_python: str | None = None
    #: across interpreters, for a pure wheel (derived: the site and the check command fill it in)
    agreement: Agreement | None = None
    #: a rebuild from an earlier record against that record (``check --from-record``; absent otherwise)
    verification: Verification | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.name, self.version, self.interpreter)

    @property
    def is_verdict(self) -> bool:
        return self.status in VERDICTS

    def to_json(self) -> dict[str, Any]:
        data = self._json()
        if self.verification is not None:  # only a rebuild from a record has it: other records keep their bytes
            data["verification"] = self.verification.to_json()
        return data

    def _json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "name": self.name,
            "version": self.version,
            "python": self.python,
            "interpreter": self.interpreter,
            "status": self.status,
            "message": self.message,
            "sdist": self.sdist.to_json() if self.sdist else None,
            "index_url": self.index_url,
            "environment": self.environment.to_json() if self.environment else None,
            "isolation": self.isolation.to_json() if self.isolation else None,
            "controls": dict(self.controls),
            "builds": [b.to_json() for b in self.builds],
            "differences": [d.to_json() for d in self.differences],
            "variations": dict(self.variations),
            "sensitive_to": list(self.sensitive_to),
            "variation_differences": [d.to_json() for d in self.variation_differences],
            "upstream": self.upstream.to_json() if self.upstream else None,
            "diffoscope": self.diffoscope,
            "started": self.started,
            "finished": self.finished,
            "reproduce": self.reproduce,
            "tracker": self.tracker,
            "requires_python": self.requires_python,
            "agreement": self.agreement.to_json() if self.agreement else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Result:
        status = data["status"]
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        for stamp in ("started", "finished"):
            sortable_utc(data.get(stamp) or "")  # ValueError for a time that is not ISO 8601
        return cls(
            name=data["name"],
            version=data["version"],
            python=data.get("python", ""),
            interpreter=data.get("interpreter", ""),
            status=status,
            started=data.get("started", ""),
            finished=data.get("finished", ""),
            reproduce=data.get("reproduce", ""),
            sdist=Artifact.from_json(data["sdist"]) if data.get("sdist") else None,
            environment=Environment.from_json(data["environment"]) if data.get("environment") else None,
            builds=tuple(Build.from_json(b) for b in data.get("builds", ())),
            differences=tuple(Difference.from_json(d) for d in data.get("differences", ())),
            variations=dict(data.get("variations", {})),
            sensitive_to=tuple(data.get("sensitive_to", ())),
            variation_differences=tuple(Difference.from_json(d) for d in data.get("variation_differences", ())),
            upstream=Upstream.from_json(data["upstream"]) if data.get("upstream") else None,
            isolation=Isolation.from_json(data["isolation"]) if data.get("isolation") else None,
            controls=dict(data.get("controls", {})),
            index_url=data.get("index_url", ""),
            message=data.get("message", ""),
            diffoscope=data.get("diffoscope"),
            tracker=data.get("tracker", ""),
            requires_python=data.get("requires_python"),
            agreement=Agreement.from_json(data["agreement"]) if data.get("agreement") else None,
            verification=Verification.from_json(data["verification"]) if data.get("verification") else None,
        )


def results_from_json(payload: Any, source: str) -> Iterator[Result]:
    """Records from parsed JSON: a list of results, or an object with a "results" list.

    InvalidRecords (naming ``source`` and the record) when it is neither or a record is malformed.
    """
    records = payload.get("results") if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise InvalidRecords(source, "expected a JSON list of result records")
    for index, record in enumerate(records):
        try:
            yield Result.from_json(record)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InvalidRecords(source, f"record {index} is not a result: {error!r}") from None
