"""Sessions: each one is a thin call into ``python -m pipeline``; the logic lives in pipeline/."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

TOOL = ("-r", "environments/tool.txt")
#: uv runs inside the sandbox (resolution, venvs, installs); hash-pinned in a file of its own, as pip's
#: hash-checking mode covers a whole install command
UV = ("--require-hashes", "-r", "environments/uv.txt")
WHEELHOUSE = "out/cache/wheelhouse"
TESTS = ("-r", "environments/tool.txt", "-r", "environments/tests.txt")


def _pipeline(session: nox.Session, command: str) -> None:
    session.install(*TOOL)
    session.install(*UV)
    session.run("python", "-m", "pipeline", command, *session.posargs)


@nox.session
def check(session: nox.Session) -> None:
    """Build a release's wheel twice per Python and say whether it is reproducible."""
    _pipeline(session, "check")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: figures and ratios against baselines run in the same process."""
    session.install(*TESTS)
    session.install(*UV)
    session.run("python", "-m", "tests.bench", *session.posargs)


@nox.session(default=False)
def lock(session: nox.Session) -> None:
    """Re-resolve the pinned build toolchain locks in environments/ (needs the network)."""
    _pipeline(session, "lock")


def _offline_tests(session: nox.Session, marks: str) -> None:
    session.install(*TESTS)
    session.install(*UV)
    session.run("python", "-m", "pipeline", "wheelhouse", WHEELHOUSE, "--extra", "environments/fixtures.txt")
    session.run("python", "-m", "pytest", "-m", marks, *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The fast tier: offline tests without real builds beyond a few tiny fixtures (under a minute)."""
    _offline_tests(session, "not network and not slow")


@nox.session(default=False)
def tests_full(session: nox.Session) -> None:
    """Every offline test, real fixture builds included (what CI runs)."""
    _offline_tests(session, "not network")


@nox.session(default=False)
def tests_network(session: nox.Session) -> None:
    """Run the tests that need the real PyPI."""
    session.install(*TESTS)
    session.install(*UV)
    session.run("python", "-m", "pytest", "-m", "network", *session.posargs)


@nox.session(default=False)
def diff(session: nox.Session) -> None:
    """Explain how two wheels differ: nox -s diff -- A.whl B.whl [--excerpts] [--diffoscope DIR]."""
    _pipeline(session, "diff")


@nox.session(default=False)
def nightly(session: nox.Session) -> None:
    """Check every listed project on every interpreter found (only what is new), then render."""
    _pipeline(session, "nightly")


@nox.session(default=False)
def merge(session: nox.Session) -> None:
    """Fold shard result files into out/ (merging twice adds nothing)."""
    _pipeline(session, "merge")


@nox.session(default=False)
def lists(session: nox.Session) -> None:
    """Refresh lists/top-pypi.txt from the public download ranking (keeps it when offline)."""
    _pipeline(session, "lists")


@nox.session(default=False)
def render(session: nox.Session) -> None:
    """Render the static site from the results store into out/site."""
    _pipeline(session, "render")


@nox.session(default=False)
def upstream(session: nox.Session) -> None:
    """Compare a release's rebuilt wheel with the index's: nox -s upstream -- PKG[==VER] [--python X.Y]."""
    _pipeline(session, "upstream")
