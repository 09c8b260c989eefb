"""The HTTP client: one retry policy, 4xx answered at once, 5xx retried, ETag revalidation, file://."""

from __future__ import annotations

import http.server
import threading

import pytest

from pipeline.engine.net import Client, Retry, atomic_write
from pipeline.errors import NetworkError


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
