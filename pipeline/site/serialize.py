"""Result records as JSON text, fast: the API files hold every attempt, so this is the hot path.

``fast_json`` builds the same dict as :meth:`Result.to_json` without ``dataclasses.asdict``
(which deep-copies and costs ~10x more).  ``Serializer`` checks the two agree on the first
records of every render and falls back to ``to_json`` if the record contract has moved on.
"""

from __future__ import annotations

import json
from typing import Any

from ..records import SCHEMA_VERSION, Artifact, Build, Difference, Result

#: how many records per render are checked against Result.to_json()
SPOT_CHECKS = 64


def dump(value: Any) -> str:
    # ASCII output (non-ASCII as \\u escapes) is both valid and ~30% faster to encode
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _artifact(a: Artifact) -> dict[str, Any]:
    data = {"filename": a.filename, "url": a.url, "sha256": a.sha256, "size": a.size,
            "upload_time": a.upload_time, "yanked": a.yanked}
    return {k: v for k, v in data.items() if v is not None}


def _build(b: Build) -> dict[str, Any]:
    return {"wheel": b.wheel, "sha256": b.sha256, "seconds": round(b.seconds, 3), "path": b.path, "log": b.log,
            "returncode": b.returncode, "build_dir": b.build_dir, "variations": list(b.variations),
            "timed_out": b.timed_out}


def _difference(d: Difference) -> dict[str, Any]:
    data = {"path": d.path, "kind": d.kind, "detail": d.detail}
    if d.cause is not None:
        data["cause"] = d.cause
    return data


def fast_json(r: Result) -> dict[str, Any]:
    env = r.environment
    up = r.upstream
    iso = r.isolation
    upstream = None
    if up is not None:
        upstream = {"status": up.status, "wheel": up.wheel, "url": up.url, "sha256": up.sha256,
                    "passes": list(up.passes), "differences": [_difference(d) for d in up.differences],
                    "note": up.note}
        upstream = {k: v for k, v in upstream.items() if v is not None}
    return {
        "schema": SCHEMA_VERSION,
        "name": r.name,
        "version": r.version,
        "python": r.python,
        "interpreter": r.interpreter,
        "status": r.status,
        "message": r.message,
        "sdist": _artifact(r.sdist) if r.sdist else None,
        "index_url": r.index_url,
        "environment": None if env is None else {
            "fingerprint": env.fingerprint, "base": env.base, "python": env.python,
            "interpreter": env.interpreter,
            "lock": {"toolchain": list(env.toolchain), "build": list(env.requirements)}, "path": env.path,
        },
        "isolation": None if iso is None else {"sandbox": iso.sandbox, "offline": iso.offline, "user": iso.user},
        "controls": dict(r.controls),
        "builds": [_build(b) for b in r.builds],
        "differences": [_difference(d) for d in r.differences],
        "variations": dict(r.variations),
        "sensitive_to": list(r.sensitive_to),
        "upstream": upstream,
        "diffoscope": r.diffoscope,
        "started": r.started,
        "finished": r.finished,
        "reproduce": r.reproduce,
        "tracker": r.tracker,
    }


class Serializer:
    """Result -> compact JSON text; trusts ``fast_json`` only while it matches ``to_json``."""

    def __init__(self) -> None:
        self.checked = 0
        self.fast = True

    def text(self, result: Result) -> str:
        if not self.fast:
            return dump(result.to_json())
        data = fast_json(result)
        if self.checked < SPOT_CHECKS:
            self.checked += 1
            reference = result.to_json()
            if data != reference:
                self.fast = False
                data = reference
        return dump(data)
