"""The live view of running checks: each phase change, and every ``every`` seconds what still runs."""

from __future__ import annotations

import sys
import threading
import time

from ..engine.check import Phase


class LiveProgress:
    """Prints phase changes as they happen, and every ``every`` seconds what is still running."""

    def __init__(self, stream=sys.stderr, every: float = 20.0) -> None:
        self.stream = stream
        self.every = every
        self.started = time.monotonic()
        self.running: dict[tuple[str, str, str], tuple[str, float]] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True)
        self.thread.start()

    def __call__(self, event: Phase) -> None:
        key = (event.name, event.version, event.interpreter)
        with self.lock:
            if event.phase == "done":
                self.running.pop(key, None)
            else:
                self.running[key] = (event.phase, time.monotonic())
            self._line(f"{event.name} {event.version} [{event.interpreter}] {event.phase}")

    def _line(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {text}", file=self.stream, flush=True)

    def _tick(self) -> None:
        while not self.stop.wait(self.every):
            with self.lock:
                for (name, version, tag), (phase, since) in sorted(self.running.items()):
                    self._line(f"  ... {name} {version} [{tag}] {phase}: {time.monotonic() - since:.0f}s so far")

    def close(self) -> None:
        self.stop.set()
