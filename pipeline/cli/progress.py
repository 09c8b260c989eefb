"""The live view of running checks: phase changes with -v, and now and then what still runs."""

from __future__ import annotations

import threading
import time

from ..engine.check import Phase
from .text import NORMAL, VERBOSE, Console


class LiveProgress:
    """Phase changes (shown with -v), and every ``every`` seconds what is still running (not with -q)."""

    def __init__(self, console: Console, every: float | None = None) -> None:
        self.console = console
        self.every = every if every is not None else (20.0 if console.verbosity >= VERBOSE else 60.0)
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
                return
            self.running[key] = (event.phase, time.monotonic())
            self._line(f"{event.name} {event.version} [{event.interpreter}] {event.phase}", VERBOSE)

    def _line(self, text: str, level: int) -> None:
        self.console.note(f"[{time.monotonic() - self.started:7.1f}s] {text}", level)

    def _tick(self) -> None:
        while not self.stop.wait(self.every):
            with self.lock:
                for (name, version, tag), (phase, since) in sorted(self.running.items()):
                    self._line(f"  ... {name} {version} [{tag}] {phase}: {time.monotonic() - since:.0f}s so far",
                               NORMAL)

    def close(self) -> None:
        self.stop.set()
