"""The HTTP client: one retry policy, 4xx answered at once, 5xx retried, ETag revalidation, file://;
and hostile servers: pages and downloads capped in bytes and time, only http(s) and file: fetched."""

from __future__ import annotations

import http.server
import os
import threading
import time
import tracemalloc

import pytest

from pipeline.engine.net import Caps, Client, Retry, atomic_write
from pipeline.errors import IndexRefused, NetworkError


class _Flaky(http.server.BaseHTTPRequestHandler):
    answers: list[int] = []
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        _Flaky.seen.append(self.path)
        code = _Flaky.answers.pop(0) if _Flaky.answers else 200
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _Flaky.seen.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_policy_waits_backoff_doubling_between_tries():
    waits: list[float] = []
    retry = Retry(attempts=4, backoff=0.5, sleep=waits.append)
    for attempt in range(1, 5):
        retry.wait(attempt)
    assert waits == [0.5, 1.0, 2.0], "no wait after the last try"


def test_server_errors_are_retried_then_answered(server):
    waits: list[float] = []
    _Flaky.answers = [503, 500]
    response = Client(retry=Retry(attempts=3, sleep=waits.append)).get(f"{server}/page")
    assert response.status == 200 and response.body == b"ok" and waits == [1.0, 2.0]


def test_a_client_error_is_an_answer_not_retried(server):
    _Flaky.answers = [404]
    response = Client(retry=Retry(attempts=3, sleep=pytest.fail)).get(f"{server}/missing")
    assert response.status == 404 and _Flaky.seen == ["/missing"]


def test_a_dead_server_is_a_network_error_after_every_try():
    waits: list[float] = []
    with pytest.raises(NetworkError, match="cannot reach http://127.0.0.1:9/"):
        Client(retry=Retry(attempts=2, sleep=waits.append)).get("http://127.0.0.1:9/")
    assert waits == [1.0]


def test_file_urls_serve_index_files(tmp_path):
    (tmp_path / "index.html").write_text("<a href='x'>x</a>")
    assert Client().get(tmp_path.as_uri() + "/").body.startswith(b"<a")
    assert Client().get((tmp_path / "nope").as_uri()).status == 404


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "deep" / "file"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in target.parent.iterdir()] == ["file"]


# -- hostile servers: every response is capped in bytes and time, and only http(s) is followed ----------


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers by path: /big streams zeros with no length, /claims declares a huge length, /slow
    trickles, /to-file and /to-ftp redirect off http."""

    sent: dict[str, int] = {}

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/to-"):
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd" if self.path == "/to-file" else "ftp://127.0.0.1/x")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        if self.path == "/claims":
            self.send_header("Content-Length", str(1 << 40))
        self.end_headers()
        sent = 0
        try:
            if self.path == "/slow":
                for _ in range(50):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                chunk = bytes(1 << 16)
                while sent < (64 << 20):  # 64 MiB, unless the client hangs up first
                    self.wfile.write(chunk)
                    sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        _Hostile.sent[self.path] = sent

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _client(**caps) -> Client:
    return Client(retry=Retry(attempts=2, sleep=pytest.fail), caps=Caps(**caps) if caps else None)


def test_a_page_over_the_cap_is_refused_while_streaming(hostile):
    with pytest.raises(IndexRefused, match=r"refused http://127\.0\.0\.1:\d+/big: it is over the 32 MiB cap"):
        _client().get(f"{hostile}/big")


def test_a_page_that_declares_a_huge_length_is_refused_before_reading(hostile):
    tracemalloc.start()
    try:
        with pytest.raises(IndexRefused, match=r"it is 1099511627776 bytes, over the 32 MiB cap"):
            _client().get(f"{hostile}/claims")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, "nothing of the body was held"


def test_a_download_over_the_cap_is_refused_and_nothing_is_kept(hostile, tmp_path):
    dest = tmp_path / "dl" / "demo-1.0.tar.gz"
    with pytest.raises(IndexRefused, match=r"it is over the 3 MiB cap \(the rest was not read\)"):
        _client(download_bytes=3 << 20).download(f"{hostile}/big", dest)
    assert list((tmp_path / "dl").iterdir()) == [], "no partial file left"


def test_a_trickling_server_is_cut_at_the_deadline(hostile):
    started = time.monotonic()
    with pytest.raises(NetworkError, match=r"it took longer than 1 s to arrive"):
        _client(page_seconds=1.0).get(f"{hostile}/slow")
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("path, where", [("/to-file", "file:///etc/passwd"), ("/to-ftp", "ftp://127.0.0.1/x")])
def test_redirects_off_http_are_refused(hostile, path, where):
    with pytest.raises(IndexRefused, match=f"it redirects to '{where}'"):
        _client().get(hostile + path)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<a>x</a>", "ftp://127.0.0.1/x", "gopher://x/"])
def test_only_http_and_file_urls_are_fetched(url, tmp_path):
    with pytest.raises(IndexRefused, match="is not fetched"):
        _client().get(url)
    with pytest.raises(IndexRefused, match="is not fetched"):
        _client().download(url, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_local_page_over_the_cap_is_refused(tmp_path):
    (tmp_path / "index.html").write_bytes(b"<a>" * (1 << 20))
    with pytest.raises(IndexRefused, match="over the 1 MiB cap"):
        _client(page_bytes=1 << 20).get(tmp_path.as_uri() + "/")


def test_a_local_download_must_be_a_regular_file(tmp_path):
    fifo = tmp_path / "demo-1.0.tar.gz"
    os.mkfifo(fifo)
    with pytest.raises(IndexRefused, match="not a regular file"):
        _client().download(fifo.as_uri(), tmp_path / "out" / "x")
    big = tmp_path / "big-1.0.tar.gz"
    with open(big, "wb") as handle:
        handle.truncate(1 << 30)  # sparse: 1 GiB read as zeros, nothing on disk
    with pytest.raises(IndexRefused, match="over the 1 KiB cap"):
        _client(download_bytes=1024).download(big.as_uri(), tmp_path / "out" / "x")
    assert list((tmp_path / "out").iterdir()) == []
