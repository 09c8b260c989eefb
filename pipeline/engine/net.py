"""Fetch URLs politely and warily: a User-Agent, ETag revalidation, retries with backoff; file:// too.

An index is input like any sdist: every response is read in chunks under a size cap and a deadline,
never whole, and only http(s) and file: URLs are fetched (redirects only to http(s)).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from .. import USER_AGENT
from ..errors import IndexRefused, NetworkError


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


MiB = 1024**2
GiB = 1024**3
CHUNK = 1 << 20
PAGE_TYPES = (("index.json", "application/vnd.pypi.simple.v1+json"), ("index.html", "text/html"))
SCHEMES = ("http", "https", "file")


@dataclass(frozen=True)
class Caps:
    """How much one response may cost: bytes and wall-clock seconds, for index pages and downloads.

    PyPI's busiest project page (botocore) is about 2 MB of JSON; a wheel a build makes is refused
    over 2 GiB (engine.build.MAX_WHEEL_BYTES), so a larger download could not be compared anyway.
    """

    page_bytes: int = 32 * MiB
    download_bytes: int = 2 * GiB
    page_seconds: float = 300.0
    download_seconds: float = 3600.0


def size_text(n: int) -> str:
    """A cap as people say it: 32 MiB, 2 GiB, 1500 bytes."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


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


def _scheme(url: str) -> str:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise IndexRefused(url[:200], f"the URL scheme {scheme or '(none)'}: is not fetched (only http, https and file)")
    return scheme


class _HttpRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to http(s): an https index must not send us to ftp: or file:."""

    def http_error_302(self, req, fp, code, msg, headers):  # type: ignore[no-untyped-def]
        newurl = urllib.parse.urljoin(req.full_url, headers.get("location") or headers.get("uri") or "")
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise IndexRefused(req.full_url, f"it redirects to {newurl[:200]!r}; only http(s) redirects are followed")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener() -> urllib.request.OpenerDirector:
    # build_opener would add the ftp:, file: and data: handlers too
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), urllib.request.HTTPHandler(),
                    urllib.request.HTTPSHandler(), urllib.request.HTTPDefaultErrorHandler(), _HttpRedirects(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


_OPENER = _opener()


def _stream(source: BinaryIO, url: str, cap: int, seconds: float, sink: Callable[[bytes], object]) -> int:
    """Copy ``source`` into ``sink`` a chunk at a time; refuse it past ``cap`` bytes or ``seconds``."""
    declared = getattr(source, "headers", None) and source.headers.get("Content-Length", "")
    if declared and declared.strip().isdigit() and int(declared) > cap:
        raise IndexRefused(url[:200], f"it is {int(declared)} bytes, over the {size_text(cap)} cap")
    deadline = time.monotonic() + seconds
    # read1 returns what one receive brings, so a server trickling bytes cannot hold a read past the deadline
    read = getattr(source, "read1", source.read)
    total = 0
    while chunk := read(CHUNK):
        total += len(chunk)
        if total > cap:
            raise IndexRefused(url[:200], f"it is over the {size_text(cap)} cap (the rest was not read)")
        if time.monotonic() > deadline:
            raise NetworkError(url[:200], f"it took longer than {seconds:g} s to arrive")
        sink(chunk)
    return total


def _local_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise IndexRefused(url[:200], "a file: URL naming another host")
    path = urllib.request.url2pathname(parts.path)
    if "\x00" in path:
        raise IndexRefused(url[:200], "a file: URL with a NUL byte")
    return path


def _open_local(path: str, url: str) -> BinaryIO:
    """A regular file, opened for reading (a FIFO or a device would never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IndexRefused(url[:200], "not a regular file")
    return os.fdopen(fd, "rb")


def _file_response(url: str, caps: Caps) -> Response:
    path = Path(_local_path(url))
    kind = "application/vnd.pypi.simple.v1+json" if path.suffix == ".json" else "text/html"
    if path.is_dir():
        pages = [(path / name, page_kind) for name, page_kind in PAGE_TYPES if (path / name).is_file()]
        if not pages:
            return Response(url, 404, "", b"")
        path, kind = pages[0]
    elif not path.is_file():
        return Response(url, 404, "", b"")
    body = bytearray()
    with _open_local(str(path), url) as source:
        _stream(source, url, caps.page_bytes, caps.page_seconds, body.extend)
    return Response(url, 200, kind, bytes(body))


class Client:
    """One client per run; safe to share between threads (no mutable state but the cache files)."""

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        timeout: float = 60.0,
        retry: Retry | None = None,
        caps: Caps | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.timeout = timeout  # for each connect and each read; ``caps`` bound the whole response
        self.retry = retry or DEFAULT_RETRY
        self.caps = caps or Caps()

    def _cache_paths(self, url: str, accept: str) -> tuple[Path, Path] | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(f"{accept}\n{url}".encode()).hexdigest()
        base = self.cache_dir / key[:2] / key
        return base.with_suffix(".json"), base.with_suffix(".body")

    def get(self, url: str, accept: str = "*/*") -> Response:
        """GET a page (at most ``caps.page_bytes``); 4xx come back as a Response, 5xx and failures
        are retried then raised; a page over the cap or a refused URL raise IndexRefused at once."""
        if _scheme(url) == "file":
            return _file_response(url, self.caps)
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
                with _OPENER.open(request, timeout=self.timeout) as reply:
                    body = bytearray()
                    _stream(reply, url, self.caps.page_bytes, self.caps.page_seconds, body.extend)
                    response = Response(reply.geturl(), reply.status, reply.headers.get("Content-Type", ""), bytes(body))
                    if paths and reply.headers.get("ETag"):
                        atomic_write(paths[1], response.body)
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

    def download(self, url: str, dest: Path, cap: int | None = None) -> str:
        """Stream a file to ``dest`` atomically; return its sha256.  Over ``cap`` bytes (default
        ``caps.download_bytes``) it is refused and nothing is kept."""
        cap = self.caps.download_bytes if cap is None else cap
        local = _scheme(url) == "file"
        dest.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, self.retry.attempts + 1):
            digest = hashlib.sha256()
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    if local:
                        source = _open_local(_local_path(url), url)
                    else:
                        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
                        source = _OPENER.open(request, timeout=self.timeout)
                    with source:
                        def write(chunk: bytes) -> None:
                            digest.update(chunk)
                            handle.write(chunk)

                        _stream(source, url, cap, self.caps.download_seconds, write)
                os.replace(tmp, dest)
                return digest.hexdigest()
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                reason = str(getattr(exc, "reason", exc))
                if local or (isinstance(exc, urllib.error.HTTPError) and exc.code < 500 and exc.code != 429):
                    break
                self.retry.wait(attempt)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        raise NetworkError(url, reason)
