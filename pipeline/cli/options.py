"""The options several commands share, each validated when it is parsed, and the CheckOptions they make.

A bad value is one line and exit 2 before anything runs: a timeout of 0 must never become a
``timeout`` verdict, a memory cap of 0 a ``build-failed`` one.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NoReturn, Sequence

from .. import __version__
from ..engine.options import CheckOptions
from ..records import PYPI_SIMPLE
from ..engine.sandbox import GiB
from ..errors import UsageError

PROG = "wheelrepro"
#: the exit codes, stated in every command's --help
EXIT_CODES = """\
exit status:
  0  everything checked is reproducible (or the command did what it was asked;
     check --from-record: every record verified)
  1  something is unreproducible (diff: the wheels differ; upstream: the index's wheel differs;
     check --from-record: a rebuild differs from its record)
  2  something could not be checked, or bad input (one line says what; check --from-record: a
     record refused, or the environment it names unavailable)
  3  an internal error (one line names the file holding the traceback)
  130  interrupted (Ctrl-C or SIGTERM): nothing from the unfinished checks is kept"""


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line and exit code 2 through :func:`pipeline.cli.main`."""

    def __init__(self, command: str, description: str, **kwargs: object) -> None:
        super().__init__(prog=f"{PROG} {command}", description=description, epilog=EXIT_CODES,
                         formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
        self.add_argument("--version", action="version", version=f"{PROG} {__version__}")

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# -- values, checked as they are parsed ---------------------------------------------------------

def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def url(text: str, folder: bool = False, exists: bool = True) -> str:
    """An http(s) URL, or a file URL naming something that exists (a folder, when ``folder``)."""
    parsed = urllib.parse.urlparse(text) if "\x00" not in text else None
    if parsed and parsed.scheme in ("http", "https") and parsed.netloc:
        return text
    if parsed and parsed.scheme == "file" and parsed.path:
        local = Path(urllib.request.url2pathname(parsed.path))
        if exists and not (local.is_dir() if folder else local.exists()):
            raise argparse.ArgumentTypeError(f"no such {'folder' if folder else 'file'}: {text!r}")
        return text
    raise argparse.ArgumentTypeError(f"not an http(s):// or file:// URL: {text!r}")


def any_url(text: str) -> str:
    """An http(s) or file URL, not looked at now (what it names may be down: the command says so)."""
    return url(text, exists=False)


def index_url(text: str) -> str:
    """An index (or find-links page): an http(s) URL, or a file URL of a folder."""
    return url(text, folder=True)


def link_source(text: str) -> str:
    """--find-links: an existing folder, or a URL."""
    if "://" in text:
        return index_url(text)
    if "\x00" in text or not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"not a folder or a URL: {text!r}")
    return str(Path(text).resolve())


def writable_folder(text: str) -> Path:
    """A folder this process can write in: made if missing, and proved by writing a file in it."""
    if not text or "\x00" in text:
        raise argparse.ArgumentTypeError(f"not a folder name: {text!r}")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write in {text}: {error.strerror or error}") from None
    return path


def record_source(text: str) -> str:
    """--from-record: an http(s) or file URL, an existing file, or a results folder (its store)."""
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"not a file or a URL: {text!r}")
    if "://" in text:
        if text.split("://", 1)[0].lower() not in ("http", "https", "file"):
            raise argparse.ArgumentTypeError(f"not an http(s):// or file:// URL: {text!r}")
        return text
    if Path(text).is_dir():
        from ..nightly.store import STORE_NAME

        if not (Path(text) / STORE_NAME).is_file():  # reading must never make an empty store
            raise argparse.ArgumentTypeError(f"{text} is a folder without a results store ({STORE_NAME})")
        return text
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return text


def existing_file(text: str) -> Path:
    if "\x00" in text or not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return Path(text)


_MINOR = re.compile(r"^(?:cp)?(\d)\.?(\d{1,2})$")
_EXACT = re.compile(r"^(\d)\.(\d{1,2})\.(\d{1,3})$")


def python_version(text: str) -> str:
    """``X.Y`` (or ``cpXY``, ``XY``) for a minor version, ``X.Y.Z`` for exactly that interpreter."""
    text = text.strip()
    if text == "all":
        return text
    exact = _EXACT.match(text)
    if exact:
        return ".".join(str(int(part)) for part in exact.groups())
    minor = _MINOR.match(text)
    if minor:
        return ".".join(str(int(part)) for part in minor.groups())
    raise argparse.ArgumentTypeError(f"not a Python version: {text!r} (give X.Y such as 3.12, or X.Y.Z)")


def python_versions(text: str) -> list[str]:
    """``--python 3.12,3.13`` as well as ``--python 3.12 --python 3.13``."""
    return [python_version(part) for part in re.split(r"[,\s]+", text) if part]


def flatten(values: Sequence[Sequence[str]] | None) -> list[str]:
    return [value for group in values or () for value in group]


# -- groups of options -----------------------------------------------------------------------

def add_build_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that builds shares: where packages come from, the limits, the sandbox."""
    add = parser.add_argument
    add("--index-url", type=index_url, default=PYPI_SIMPLE, help="PEP 503/691 simple index (https:// or file://)")
    add("--find-links", type=link_source, action="append", default=[], metavar="DIR|URL",
        help="extra place for build requirements")
    add("--timeout", type=positive_number, default=1800.0, metavar="SECONDS", help="per build (default 1800)")
    add("--memory", type=positive_number, default=8.0, metavar="GIB",
        help="memory cap per build, its processes and tmpfs together (default 8; per process without cgroups)")
    add("--unsandboxed", action="store_true", help="build without bubblewrap (results are marked so)")
    add("--sequential", action="store_true", help="run the two controlled builds one after the other, not at once")


def add_out(parser: argparse.ArgumentParser, help: str = "the results folder: store, kept wheels, logs, caches"
            ) -> None:
    # a string default goes through ``type`` too, so ./out is checked like a given folder
    parser.add_argument("--out", type=writable_folder, default="out", metavar="DIR", help=f"{help} (default ./out)")


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1, default=0,
                       help="only problems and the final table")
    group.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1,
                       help="every phase of every check, and details for every result")


def check_options(args: argparse.Namespace, out: Path, **more: object) -> CheckOptions:
    """The CheckOptions the shared build options (and ``more``) ask for."""
    return CheckOptions(out=out, index_url=args.index_url, find_links=tuple(args.find_links), timeout=args.timeout,
                        memory=int(args.memory * GiB), unsandboxed=args.unsandboxed, sequential=args.sequential, **more)
