"""Sessions: each one is a thin call into ``python -m pipeline``; the logic lives in pipeline/."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

TOOL = ("-r", "environments/tool.txt")
WHEELHOUSE = "out/cache/wheelhouse"
TESTS = ("-r", "environments/tool.txt", "-r", "environments/tests.txt")


def _pipeline(session: nox.Session, command: str) -> None:
    session.install(*TOOL)
    session.run("python", "-m", "pipeline", command, *session.posargs)


@nox.session
def check(session: nox.Session) -> None:
    """Build a release's wheel twice per Python and say whether it is reproducible."""
    _pipeline(session, "check")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks: figures and ratios against baselines run in the same process."""
    _pipeline(session, "bench")


@nox.session(default=False)
def lock(session: nox.Session) -> None:
    """Re-resolve the pinned build toolchain locks in environments/ (needs the network)."""
    _pipeline(session, "lock")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the offline test suite (first fills the wheelhouse the fixture builds install from)."""
    session.install(*TESTS)
    session.run("python", "-m", "pipeline", "wheelhouse", WHEELHOUSE, "--extra", "environments/fixtures.txt")
    session.run("python", "-m", "pytest", "-m", "not network", *session.posargs)


@nox.session(default=False)
def tests_network(session: nox.Session) -> None:
    """Run the tests that need the real PyPI."""
    session.install(*TESTS)
    session.run("python", "-m", "pytest", "-m", "network", *session.posargs)


@nox.session(default=False)
def diff(session: nox.Session) -> None:
    """Explain how two wheels differ: nox -s diff -- A.whl B.whl [--excerpts] [--diffoscope DIR]."""
    session.install(*TOOL)
    session.run("python", "-m", "pipeline.explain", *session.posargs)


@nox.session(default=False)
def upstream(session: nox.Session) -> None:
    """Compare a release's rebuilt wheel with the index's: nox -s upstream -- PKG[==VER] [--python X.Y]."""
    session.install(*TOOL)
    session.run("python", "-m", "pipeline.upstream", *session.posargs)
