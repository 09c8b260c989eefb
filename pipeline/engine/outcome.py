"""The one place a check's measurements become a :class:`Result`, and the one reproduce command."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from .. import __version__
from ..records import PYPI_SIMPLE, VERIFIABLE, Artifact, Isolation, Release, Result, Status, utcnow
from .build import CONTROLS
from .options import CheckOptions
from .sandbox import GiB


#: how the commands start: the installed tool's console script (``pipx install``), which works from any folder
TOOL = "wheelrepro"


def _number(value: float) -> str:
    return f"{value:g}"


def build_words(options: CheckOptions, *, from_index: bool = True, index: bool = True) -> list[str]:
    """The options that change a check's result, as the check command takes them (``--out`` does not:
    builds see constant paths, so another results folder gives the same bytes)."""
    words: list[str] = []
    if index and from_index and options.index_url != PYPI_SIMPLE:
        words += ["--index-url", options.index_url]
    for link in options.find_links:
        words += ["--find-links", link]
    words += ["--timeout", _number(options.timeout), "--memory", _number(options.memory / GiB)]
    if options.unsandboxed:
        words.append("--unsandboxed")
    if options.sequential:
        words.append("--sequential")
    return words


def reproduce_command(spec: str, minor: str, options: CheckOptions, *, from_index: bool = True) -> str:
    """The command that repeats one (release, interpreter) check, with every option that changes its
    result; a local sdist needs no index.  It resolves the build requirements again: the command that
    rebuilds with a record's own locks is :func:`rederive_command`."""
    words = [TOOL, "check", spec, "--python", minor, *build_words(options, from_index=from_index)]
    if options.vary:
        words.append("--vary")
    return shlex.join(words)


def rederive_command(source: str, name: str, version: str, python: str, options: CheckOptions | None = None,
                     index: bool = False) -> str:
    """The command that rebuilds one record (at ``source``: a file or a URL) with its exact interpreter,
    locks, sdist and controls, and says ``verified`` or what differs; ``index`` when --index-url was given."""
    words = [TOOL, "check", "--from-record", source, f"{name}=={version}", "--python", python]
    if options is not None:
        words += build_words(options, index=index)
    return shlex.join(words)


@dataclass(frozen=True)
class Draft:
    """What every result of one (release, interpreter) check shares; :meth:`finish` makes the Result."""

    name: str
    version: str
    python: str
    interpreter: str
    reproduce: str
    started: str = field(default_factory=utcnow)
    sdist: Artifact | None = None
    index_url: str = ""
    isolation: Isolation | None = None
    controls: Mapping[str, str] = field(default_factory=dict)
    requires_python: str | None = None
    #: for a verdict, the command that rebuilds it from its own record in the store (its locks, its sdist)
    rederive: str = ""

    def finish(self, status: Status, **fields: Any) -> Result:
        """The Result, stamped finished now; ``fields`` are the measurements (builds, environment, ...).

        A verdict's ``reproduce`` is :attr:`rederive` (when set): the record is kept in the store under
        ``--out``, and rebuilding from it uses its exact locks, where the check command would resolve again.
        """
        reproduce = self.rederive if self.rederive and status in VERIFIABLE else self.reproduce
        return Result(
            name=self.name, version=self.version, python=self.python, interpreter=self.interpreter,
            status=status, started=self.started, finished=utcnow(), reproduce=reproduce, sdist=self.sdist,
            index_url=self.index_url, isolation=self.isolation, controls=dict(self.controls), tracker=__version__,
            requires_python=self.requires_python, **fields,
        )

    def controlled(self) -> Draft:
        """The same draft with the controls every build gets recorded."""
        return replace(self, controls=dict(CONTROLS))


def _selector(python: str, interpreter: str) -> str:
    """What ``--python`` takes for an interpreter: 3.12 for cp312, 3.14t for the free-threaded cp314t."""
    return ".".join(python.split(".")[:2]) + ("t" if interpreter.endswith("t") else "")


def error_result(name: str, version: str, python: str, interpreter: str, message: str, options: CheckOptions,
                 started: str | None = None) -> Result:
    """An ``error`` record for a (release, interpreter) the tracker or the network failed on."""
    spec = f"{name}=={version}" if version else name
    draft = Draft(name=name, version=version, python=python, interpreter=interpreter,
                  reproduce=reproduce_command(spec, _selector(python, interpreter), options), started=started or utcnow(),
                  index_url=options.index_url)
    return draft.finish("error", message=message)


def not_applicable_result(release: Release, python: str, interpreter: str, reason: str,
                          options: CheckOptions) -> Result:
    """The record of a release whose Requires-Python excludes the interpreter: nothing is built, ever."""
    draft = Draft(name=release.name, version=release.version, python=python, interpreter=interpreter,
                  reproduce=reproduce_command(f"{release.name}=={release.version}", _selector(python, interpreter),
                                              options),
                  sdist=release.sdist, index_url=release.index_url or options.index_url,
                  requires_python=release.requires_python or None)
    return draft.finish("not-applicable", message=reason)
