"""Sessions: each one is a thin call into the ``wheelrepro`` command; the logic lives in pipeline/."""

from __future__ import annotations

from pathlib import Path

import nox
from nox.command import CommandFailed

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
    """Install the tool as pipx would and run ``wheelrepro COMMAND`` where nox was started.

    The command's own exit code (0/1/2/3) becomes nox's, which would otherwise turn every failure
    into 1; its stderr stays stderr (``--json -`` keeps stdout clean), and on Ctrl-C it gets time
    to stop its builds and clean up instead of nox's half-second SIGKILL.
    """
    session.install(*TOOL)
    session.install(*UV)
    if not (Path(session.bin) / "wheelrepro").exists():
        # editable: once made, the session runs the checkout's code as it is, with no rebuild per call
        session.install("--no-deps", "-e", ".")
    with session.chdir(session.invoked_from):
        try:
            session.run("wheelrepro", command, *session.posargs, stderr=None, interrupt_timeout=90.0,
                        terminate_timeout=10.0)
        except CommandFailed as failed:
            raise SystemExit(failed.return_code) from None


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
    # from the checkout, not an installed copy: the locks written must be the repository's
    session.install(*TOOL)
    session.run("python", "-m", "pipeline", "lock", *session.posargs)


def _offline_tests(session: nox.Session, marks: str) -> None:
    session.install(*TESTS)
    session.install(*UV)
    session.run("python", "-m", "pipeline", "wheelhouse", WHEELHOUSE, "--extra", "environments/fixtures.txt")
    # the tool's own dependencies, so a test can install it as a user would, offline
    # (two runs: pip's hash mode applies to every requirement of a run, and only uv is hash-pinned)
    session.run("python", "-m", "pip", "download", "--quiet", "--dest", WHEELHOUSE, *TOOL)
    session.run("python", "-m", "pip", "download", "--quiet", "--dest", WHEELHOUSE, *UV)
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
def history(session: nox.Session) -> None:
    """Fold the results history (its git data branch) into out/: nox -s history -- --remote URL."""
    _pipeline(session, "history")


@nox.session(default=False)
def publish(session: nox.Session) -> None:
    """A night's last step: fold the history, merge shard results, append and push them, render."""
    _pipeline(session, "publish")


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
    """Is the index's wheel what its sdist builds to: nox -s upstream -- PKG[==VER]... | SDIST... [--python X.Y]."""
    _pipeline(session, "upstream")
