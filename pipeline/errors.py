"""One exception hierarchy; the CLI turns each into a one-line message."""

from __future__ import annotations


class PipelineError(Exception):
    """Root of every error the pipeline raises on purpose.

    ``str(error)`` is the one line a user sees; subclasses carry structured fields.
    """


class UsageError(PipelineError):
    """The command line asked for something that cannot be done."""


class NetworkError(PipelineError):
    """An index or download could not be reached, or answered 5xx: retry later."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach {url}: {reason}")


class ProjectNotFound(PipelineError):
    """The index does not know this project."""

    def __init__(self, name: str, index_url: str) -> None:
        self.name = name
        self.index_url = index_url
        super().__init__(f"no project named {name!r} on {index_url}")


class VersionNotFound(PipelineError):
    """The project exists but has no such release."""

    def __init__(self, name: str, version: str, available: tuple[str, ...] = ()) -> None:
        self.name = name
        self.version = version
        tail = f" (latest: {', '.join(available[-3:])})" if available else ""
        super().__init__(f"{name} has no release {version}{tail}")


class DigestMismatch(PipelineError):
    """A downloaded file's sha256 differs from what the index published."""

    def __init__(self, filename: str, expected: str, actual: str) -> None:
        self.filename = filename
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{filename}: sha256 {actual[:16]}... does not match the index's {expected[:16]}...; file refused"
        )


class UnsafeArchive(PipelineError):
    """An sdist tries to write outside its folder, or holds links or devices."""

    def __init__(self, archive: str, member: str, reason: str) -> None:
        self.archive = archive
        self.member = member
        self.reason = reason
        super().__init__(f"refused {archive}: member {member!r} {reason}")


class EnvironmentFailed(PipelineError):
    """The pinned build environment could not be resolved or installed."""

    def __init__(self, what: str, detail: str, log: str | None = None) -> None:
        self.what = what
        self.detail = detail
        self.log = log
        super().__init__(f"{what}: {detail}")


class BuildRequirementsFailed(EnvironmentFailed):
    """The package's own build requirements cannot be met: a verdict (build-failed), not our error."""


class SdistOnlyRequirements(EnvironmentFailed):
    """Build requirements with no usable wheel: they must be built (offline, sandboxed) before they can be locked."""

    def __init__(self, names: tuple[str, ...], log: str | None = None) -> None:
        self.names = names
        super().__init__(f"build requirements {', '.join(names)}", "publish only an sdist for this Python", log)


class SandboxUnavailable(PipelineError):
    """Builds cannot be isolated on this machine and --unsandboxed was not given."""


class StoreBusy(PipelineError):
    """Another run holds the results store."""


class WheelUnreadable(PipelineError):
    """A wheel to compare is missing, not a zip, or has a corrupt member."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read wheel {path}: {reason}")


class InvalidList(PipelineError):
    """A package list has a line that is neither a name nor ``name==version``."""

    def __init__(self, where: str, line: str, reason: str) -> None:
        self.where = where
        self.line = line
        self.reason = reason
        super().__init__(f"{where}: {reason}: {line!r}")


class VariationUnavailable(PipelineError):
    """A variation cannot be applied on this machine: it is recorded `not-tested`, never `same`."""

    def __init__(self, variation: str, reason: str) -> None:
        self.variation = variation
        self.reason = reason
        super().__init__(f"{variation}: {reason}")


class InvalidRecords(PipelineError):
    """Result records that cannot be read (not JSON, not a list of results, bad fields)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class HistoryUnavailable(PipelineError):
    """The results history (the data branch) could not be fetched, read or pushed: the night stops
    rather than start from less than the whole history."""

    def __init__(self, remote: str, branch: str, reason: str, missing: bool = False) -> None:
        self.remote = remote
        self.branch = branch
        self.reason = reason
        #: the remote answered that the branch does not exist (not worth retrying)
        self.missing = missing
        super().__init__(f"history {branch!r} on {remote}: {reason}")


class IndexRefused(PipelineError):
    """An index page or file refused: over a size cap, a URL the index may not point at, no digest.

    The index is input like any sdist: what it says is checked, never trusted.
    """

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"refused {what}: {reason}")


class WheelOverCap(WheelUnreadable):
    """A wheel over a cap on members, inflated size or compression ratio: refused before inflating."""

    def __init__(self, path: str, reason: str) -> None:  # noqa: super-init-not-called - another message
        self.path = path
        self.reason = reason
        PipelineError.__init__(self, f"refused wheel {path} before inflating it: {reason}")
class NotInferred(PipelineError):
    """The toolchain that made a published wheel cannot be inferred or resolved; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class RecordRefused(PipelineError):
    """A record ``check --from-record`` will not rebuild: malformed, not a verdict, or a lock line or
    sdist digest that does not check out.  Nothing is built; never a verdict."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"refused {what}: {reason}")


class RebuildUnavailable(PipelineError):
    """What a record was built with is not on this machine (its exact interpreter, a locked file)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"environment unavailable: {reason}")
