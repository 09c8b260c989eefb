"""Shared fixtures: a local index of tiny sdists, an offline wheelhouse, a checker that uses them."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

from pipeline.engine import sandbox
from pipeline.engine.check import Checker, CheckOptions
from pipeline.engine.interpreters import discover
from tests.sdists import LocalIndex

ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = Path(os.environ.get("WHEELREPRO_WHEELHOUSE", ROOT / "out" / "cache" / "wheelhouse"))


def pytest_configure(config: pytest.Config) -> None:
    for marker, text in (
        ("network", "needs the real PyPI (run with `nox -s tests_network`)"),
        ("browser", "drives Debian's Chromium through Playwright"),
        ("slow", "builds real wheels; takes more than a few seconds"),
    ):
        config.addinivalue_line("markers", f"{marker}: {text}")


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    if not any(WHEELHOUSE.glob("build-*.whl")) or not any(WHEELHOUSE.glob("setuptools-*.whl")):
        pytest.fail(f"no offline wheelhouse at {WHEELHOUSE}: run the tests with `nox -s tests`, which fills it")
    return WHEELHOUSE


@pytest.fixture(scope="session")
def interpreters():
    found = discover().found
    if not found:
        pytest.fail("no supported Python interpreter on this machine")
    return {i.minor: i for i in found}


@pytest.fixture(scope="session")
def sandboxed() -> bool:
    return sandbox.sandbox_works() is None


@pytest.fixture(scope="session")
def shared_out(tmp_path_factory) -> Path:
    """One out/ for the session, so pinned environments are made once and reused."""
    return tmp_path_factory.mktemp("out")


@pytest.fixture
def index(tmp_path) -> LocalIndex:
    return LocalIndex(tmp_path / "index")


@pytest.fixture
def make_checker(shared_out, wheelhouse, sandboxed):
    def make(index: LocalIndex, **overrides) -> Checker:
        options = dict(out=shared_out, index_url=index.url, find_links=(str(wheelhouse),), timeout=120.0,
                       unsandboxed=not sandboxed)
        options.update(overrides)
        return Checker(CheckOptions(**options))

    return make


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".json": "application/vnd.pypi.simple.v1+json"}

    def translate_path(self, path: str) -> str:
        # a folder holding index.json is a PEP 691 page (the server would look for index.html only)
        local = super().translate_path(path)
        if os.path.isdir(local) and os.path.isfile(os.path.join(local, "index.json")):
            return os.path.join(local, "index.json")
        return local

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_index(index):
    """The same index served over http on 127.0.0.1."""
    handler = functools.partial(_QuietHandler, directory=str(index.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield index, f"http://127.0.0.1:{server.server_address[1]}/simple/"
    server.shutdown()
    server.server_close()
