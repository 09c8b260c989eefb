"""What an explainer is given (one member of each wheel, read lazily) and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Callable, Iterator, Protocol

from .causes import Cause

#: explainers may load a member whole only up to this size; larger ones are streamed
MEMBER_CAP = 32 * 1024 * 1024
CHUNK = 1024 * 1024


class Member:
    """One zip member, opened on demand; the whole content is loaded only if asked and small."""

    def __init__(self, name: str, size: int, opener: Callable[[], IO[bytes]], cap: int = MEMBER_CAP) -> None:
        self.name = name
        self.size = size
        self._opener = opener
        self._cap = cap
        self._data: bytes | None = None
        self._head: bytes | None = None

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        with self._opener() as stream:
            while chunk := stream.read(size):
                yield chunk

    def head(self, n: int = 8192) -> bytes:
        if self._data is not None:
            return self._data[:n]
        if self._head is None or len(self._head) < min(n, self.size):
            with self._opener() as stream:
                self._head = stream.read(n)
        return self._head[:n]

    @property
    def loadable(self) -> bool:
        return self.size <= self._cap

    def data(self) -> bytes | None:
        """The whole content, or None when the member is over the cap (stream it instead)."""
        if self._data is None and self.loadable:
            with self._opener() as stream:
                self._data = stream.read()
        return self._data


@dataclass(frozen=True)
class Context:
    """What the comparer already knows about the two archives when explaining one member."""

    changed: frozenset[str] = field(default_factory=frozenset)
    only_a: frozenset[str] = field(default_factory=frozenset)
    only_b: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Explanation:
    """An explainer's verdict on one differing member: one summary line, optional excerpt lines."""

    detail: str
    cause: Cause
    excerpt: tuple[str, ...] = ()

    def full_detail(self) -> str:
        return "\n".join((self.detail, *self.excerpt))


class Explainer(Protocol):
    """A plugin: returns None when it does not recognise the member, else an explanation."""

    def __call__(self, path: str, a: Member, b: Member, context: Context) -> Explanation | None: ...


def is_text(sample: bytes) -> bool:
    """UTF-8 without NUL bytes (the sample may end mid-character)."""
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(sample) - 3 and error.reason == "unexpected end of data"
    return True


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def clip_list(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
