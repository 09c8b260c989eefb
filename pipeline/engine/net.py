"""Fetch URLs politely: a User-Agent, ETag revalidation, retries with backoff; file:// too."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import USER_AGENT
from ..errors import NetworkError


@dataclass(frozen=True)
class Retry:
    """The one retry policy: ``attempts`` tries in all, waiting backoff, 2x backoff, ... between them.

    ``sleep`` is the clock the waits go through, so tests pass one that does not wait.
    """

    attempts: int = 4
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep

    def wait(self, attempt: int) -> None:
        """Pause after failed try number ``attempt`` (1-based) when another try follows."""
        if attempt < self.attempts:
            self.sleep(self.backoff * 2 ** (attempt - 1))


#: what every client and the nightly use unless told otherwise (tests replace it to skip the waits)
DEFAULT_RETRY = Retry()


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    content_type: str
    body: bytes
    from_cache: bool = False


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _file_response(url: str) -> Response:
    path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    if path.is_dir():
        for name, kind in (("index.json", "application/vnd.pypi.simple.v1+json"), ("index.html", "text/html")):
            if (path / name).is_file():
                return Response(url, 200, kind, (path / name).read_bytes())
        return Response(url, 404, "", b"")
    if not path.is_file():
        return Response(url, 404, "", b"")
    kind = "application/vnd.pypi.simple.v1+json" if path.suffix == ".json" else "text/html"
    return Response(url, 200, kind, path.read_bytes())


class Client:
    """One client per run; safe to share between threads (no mutable state but the cache files)."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        timeout: float = 60.0,
        retry: Retry | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.retry = retry or DEFAULT_RETRY

    def _cache_paths(self, url: str, accept: str) -> tuple[Path, Path] | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(f"{accept}\n{url}".encode()).hexdigest()
        base = self.cache_dir / key[:2] / key
        return base.with_suffix(".json"), base.with_suffix(".body")

    def get(self, url: str, accept: str = "*/*") -> Response:
        """GET a page; 4xx come back as a Response, 5xx and failures are retried then raised."""
        if url.startswith("file:"):
            return _file_response(url)
        paths = self._cache_paths(url, accept)
        headers = {"User-Agent": USER_AGENT, "Accept": accept}
        cached: dict | None = None
        if paths and paths[0].is_file() and paths[1].is_file():
            cached = json.loads(paths[0].read_text())
            if cached.get("etag"):
                headers["If-None-Match"] = cached["etag"]
        for attempt in range(1, self.retry.attempts + 1):
            try:
                request = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                    body = reply.read()
                    response = Response(reply.geturl(), reply.status, reply.headers.get("Content-Type", ""), body)
                    if paths and reply.headers.get("ETag"):
                        atomic_write(paths[1], body)
                        meta = {"etag": reply.headers["ETag"], "content_type": response.content_type, "url": response.url}
                        atomic_write(paths[0], json.dumps(meta).encode())
                    return response
            except urllib.error.HTTPError as exc:
                if exc.code == 304 and cached is not None and paths:
                    return Response(cached["url"], 200, cached["content_type"], paths[1].read_bytes(), True)
                if exc.code < 500 and exc.code != 429:
                    return Response(url, exc.code, exc.headers.get("Content-Type", "") if exc.headers else "", b"")
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                reason = str(getattr(exc, "reason", exc))
            self.retry.wait(attempt)
        raise NetworkError(url, reason)

    def download(self, url: str, dest: Path) -> str:
        """Stream a file to ``dest`` atomically; return its sha256."""
        digest = hashlib.sha256()
        dest.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, self.retry.attempts + 1):
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    if url.startswith("file:"):
                        source = open(urllib.request.url2pathname(urllib.parse.urlparse(url).path), "rb")
                    else:
                        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
                        source = urllib.request.urlopen(request, timeout=self.timeout)
                    with source:
                        for chunk in iter(lambda: source.read(1 << 20), b""):
                            digest.update(chunk)
                            handle.write(chunk)
                os.replace(tmp, dest)
                return digest.hexdigest()
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                os.path.exists(tmp) and os.unlink(tmp)
                digest = hashlib.sha256()
                reason = str(getattr(exc, "reason", exc))
                if url.startswith("file:") or (isinstance(exc, urllib.error.HTTPError) and exc.code < 500):
                    break
                self.retry.wait(attempt)
        raise NetworkError(url, reason)
