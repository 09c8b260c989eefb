"""A local PEP 691 index with PEP 700 upload times, served on 127.0.0.1 (uv's --exclude-newer needs them)."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class JsonIndex:
    """Projects -> files, each with its sha256 and upload time; ``url`` is the simple index's URL."""

    root: Path
    url: str = ""
    projects: dict[str, dict[str, dict]] = field(default_factory=dict)

    def add(self, name: str, filename: str, data: bytes, upload_time: str) -> str:
        (self.root / filename).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        self.projects.setdefault(canonicalize_name(name), {})[filename] = {
            "filename": filename, "hashes": {"sha256": digest}, "upload-time": upload_time, "size": len(data)}
        return digest

    def add_file(self, name: str, path: Path, upload_time: str) -> str:
        return self.add(name, path.name, path.read_bytes(), upload_time)

    def remove(self, name: str, filename: str) -> None:
        self.projects[canonicalize_name(name)].pop(filename)

    def page(self, name: str, base: str) -> bytes | None:
        files = self.projects.get(canonicalize_name(name))
        if files is None:
            return None
        entries = [dict(entry, url=f"{base}/files/{entry['filename']}") for entry in files.values()]
        return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": entries}).encode()


def _handler(index: JsonIndex):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:  # noqa: N802 - uv asks before it tries range requests
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:  # noqa: N802 - the base class's name
            base = f"http://{self.headers['Host']}"
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            body, kind = None, JSON_TYPE
            if len(parts) == 2 and parts[0] == "simple":
                body = index.page(parts[1], base)
            elif len(parts) == 2 and parts[0] == "files" and (index.root / parts[1]).is_file():
                body, kind = (index.root / parts[1]).read_bytes(), "application/octet-stream"
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler


@pytest.fixture
def json_index(tmp_path):
    index = JsonIndex(tmp_path / "json-index")
    index.root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(index))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    index.url = f"http://127.0.0.1:{server.server_address[1]}/simple/"
    yield index
    server.shutdown()
    server.server_close()
