"""The real double-build engine (interpreters, resolve, check) seen through nightly's Engine.

Kept apart from nightly.py so the nightly's own logic and tests never import the engine.
"""

from __future__ import annotations

from typing import Sequence

from ..engine import environments
from ..engine.check import Checker, CheckOptions
from ..engine.environments import EnvironmentFailed
from ..engine.interpreters import Interpreter, discover, parse_wanted
from ..engine.net import Client
from .run import Engine, NightlyOptions
from .plan import Slot
from ..records import Release, Result
from ..engine.resolve import resolve_release


def slot_for(interpreter: Interpreter) -> Slot:
    """The interpreter with its base fingerprint (interpreter version + toolchain lock): known
    before anything is resolved, so the planner can tell what is already done."""
    toolchain = environments.read_lock(environments.toolchain_lock_path(interpreter))
    base = environments.base_fingerprint(interpreter, toolchain)
    return Slot(interpreter=interpreter.tag, python=interpreter.version, base=base, handle=interpreter)


def engine(options: NightlyOptions) -> Engine:
    check_options = CheckOptions(
        out=options.work_dir or options.out_dir,
        index_url=options.index_url,
        find_links=options.find_links,
        timeout=options.timeout,
        memory=options.memory,
        unsandboxed=options.unsandboxed,
        vary=options.vary,
    )
    checker = Checker(check_options)
    # The nightly retries a failed resolution itself (with backoff); one retry inside is enough.
    client = Client(checker.workspace.http_cache, retries=1)

    def find_slots(pythons: Sequence[str]) -> list[Slot]:
        slots = []
        for interpreter in discover(parse_wanted(pythons)).found:
            try:
                slots.append(slot_for(interpreter))
            except EnvironmentFailed:
                continue  # no toolchain lock for it: `nox -s lock` first; the others still run
        return slots

    def resolve(name: str, version: str | None, index_url: str) -> Release:
        return resolve_release(client, index_url, f"{name}=={version}" if version else name)

    def check(release: Release, slot: Slot) -> Result:
        return checker.check(checker.release_target(release), slot.handle)

    return Engine(find_slots=find_slots, resolve=resolve, check=check)
