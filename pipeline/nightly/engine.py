"""The real double-build engine (interpreters, resolve, check) seen through the nightly's Engine.

Kept apart from run.py so the nightly's own logic and tests never import the engine; the command
line builds it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..engine import environments
from ..engine.check import Checker
from ..engine.environments import EnvironmentFailed
from ..engine.interpreters import Interpreter, discover, parse_wanted
from ..engine.net import Client, Retry
from ..engine.options import CheckOptions
from ..engine.resolve import resolve_per_python
from ..engine.target import pkg_info_fill
from ..records import Release, Result
from .plan import Slot
from .run import Engine, SlotSearch


def slot_for(interpreter: Interpreter) -> Slot:
    """The interpreter with its base fingerprint (interpreter version + toolchain lock): known
    before anything is resolved, so the planner can tell what is already done."""
    toolchain = environments.read_lock(environments.toolchain_lock_path(interpreter))
    base = environments.base_fingerprint(interpreter, toolchain)
    return Slot(interpreter=interpreter.tag, python=interpreter.version, base=base, handle=interpreter)


def engine(options: CheckOptions) -> Engine:
    """The double-build engine for a nightly whose checks are asked ``options``."""
    checker = Checker(options)
    # The nightly retries a failed resolution itself (with backoff); one retry inside is enough.
    client = Client(checker.workspace.http_cache, retry=Retry(attempts=2))

    def find_slots(pythons: Sequence[str]) -> SlotSearch:
        discovery = discover(parse_wanted(pythons))
        slots, unlocked = [], []
        for interpreter in discovery.found:
            try:
                slots.append(slot_for(interpreter))
            except EnvironmentFailed:
                unlocked.append(interpreter.selector)  # the others still run
        notes = [discovery.missing_message()] if discovery.missing else []
        if unlocked:
            notes.append(f"Python {', '.join(unlocked)} found but has no toolchain lock in environments/; "
                         f"write it with `nox -s lock -- --python {unlocked[0]}`; going on without")
        return SlotSearch(tuple(slots), "; ".join(notes))

    fill = pkg_info_fill(client, checker.workspace.sdists)

    def resolve(name: str, version: str | None, index_url: str, pythons: Sequence[str]) -> Mapping[str, Release]:
        return resolve_per_python(client, index_url, f"{name}=={version}" if version else name, pythons, fill)

    def check(release: Release, slot: Slot) -> Result:
        return checker.check(checker.release_target(release), slot.handle)

    return Engine(find_slots=find_slots, resolve=resolve, check=check)
