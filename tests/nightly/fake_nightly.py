"""``python -m tests.nightly.fake_nightly ARGS``: the nightly command with FakeEngine's builds.

The night test runs the workflow's own steps; its shards come here instead of to the real double
build.  Everything but the build is the real command (arguments, lists, shard slice, store, lock,
export, error-to-exit mapping).  The script is the JSON file named by $FAKE_NIGHT:
``{"index": {name: [versions]}, "pythons": [...], "verdicts": [[name, version, status]],
"finished": ISO time, "calls": file, "die_after": N or null}``; every check is appended to
``calls`` as a JSON line, and with ``die_after`` the process is killed (exit 137, no export, like
a lost runner) when it starts check number N + 1.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from pipeline.cli import COMMANDS, main
from pipeline.cli.nightly import main_nightly
from pipeline.nightly.plan import Slot
from pipeline.nightly.run import Engine
from pipeline.records import Release, Result
from tests.fake_engine import FakeEngine


def engine_from(spec: dict) -> Engine:
    fake = FakeEngine(
        index={name: list(versions) for name, versions in spec["index"].items()},
        pythons=tuple(spec["pythons"]),
        verdicts={(name, version): status for name, version, status in spec.get("verdicts", [])},
        finished=spec.get("finished"),
    )
    calls = Path(spec["calls"])
    die_after = spec.get("die_after")
    lock = threading.Lock()

    def check(release: Release, slot: Slot) -> Result:
        with lock:
            done = len(calls.read_text().splitlines()) if calls.exists() else 0
            with open(calls, "a") as handle:
                handle.write(json.dumps([release.name, release.version, slot.interpreter]) + "\n")
            if die_after is not None and done >= die_after:
                os._exit(137)
        return fake.check(release, slot)

    return Engine(find_slots=fake.find_slots, resolve=fake.resolve, check=check)


if __name__ == "__main__":
    engine = engine_from(json.loads(Path(os.environ["FAKE_NIGHT"]).read_text()))
    COMMANDS["nightly"] = (lambda argv: main_nightly(argv, engine), COMMANDS["nightly"][1])
    sys.exit(main(["nightly", *sys.argv[1:]]))
