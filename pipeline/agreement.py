"""Agreement across interpreters: did every Python build a release's pure wheel to the same bytes?

A ``py3-none-any`` wheel is meant to be one file whatever Python built it, so two interpreters that
build different bytes say something about the environments (six 1.17.0: the 3.9 build lock holds
an older setuptools).  This is derived from several results, so it is a pure function over them:
the site derives it for every page and API record, the check command for the interpreters it ran.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from .records import Agreement, Difference, Environment, Result


@lru_cache(maxsize=65536)
def is_pure(wheel: str | None) -> bool:
    """A wheel any Python 3 installs: every tag ``pyN-none-any`` (``py3-none-any``, ``py2.py3-none-any``)."""
    if not wheel or not wheel.endswith("-none-any.whl"):  # the common answer, without parsing
        return False
    try:
        tags = parse_wheel_filename(wheel)[3]
    except InvalidWheelFilename:
        return False
    return bool(tags) and all(t.abi == "none" and t.platform == "any" and t.interpreter.startswith("py") for t in tags)


def _built(result: Result) -> str | None:
    """The sha256 a result stands for: both controlled builds made one pure wheel."""
    if result.status != "reproducible" or not result.builds or not is_pure(result.builds[0].wheel):
        return None
    return result.builds[0].sha256


def _pins(lines: Iterable[str]) -> dict[str, str]:
    """``name==version --hash=...`` lock lines -> {name: version}."""
    pins = {}
    for line in lines:
        requirement = line.split()[0] if line.split() else ""
        name, sep, version = requirement.partition("==")
        if sep:
            pins[name] = version
    return pins


def _lock_reasons(groups: Sequence[Sequence[str]], environments: Mapping[str, Environment | None]) -> list[str]:
    """The lock pins that split the interpreters exactly as their wheels split: same pin inside each
    group of equal wheels, different pins between at least two groups."""
    reasons = []
    # the build lock first: it holds the backend that writes the wheel
    for label, field in (("build lock", "requirements"), ("toolchain lock", "toolchain")):
        pins = {tag: _pins(getattr(env, field)) if env else None for tag, env in environments.items()}
        if any(p is None for p in pins.values()):
            continue
        names = sorted({name for p in pins.values() for name in p})
        for name in names:
            per_group = []
            for group in groups:
                versions = {pins[tag].get(name, "") for tag in group}
                if len(versions) != 1:
                    break
                per_group.append(versions.pop())
            else:
                if len(set(per_group)) > 1:
                    parts = [f"{name}=={v} on {', '.join(g)}" if v else f"no {name} on {', '.join(g)}"
                             for v, g in zip(per_group, groups)]
                    reasons.append(f"{label}: " + "; ".join(parts))
    return reasons


def agreement(results: Iterable[Result], order: Sequence[str] = ()) -> Agreement | None:
    """Over the current results of one release (one per interpreter): ``same`` when every interpreter
    that built its pure wheel reproducibly built the same bytes, ``differs`` (with the lock pins that
    explain it) when not; None when fewer than two interpreters built a pure wheel to compare."""
    built = {r.interpreter: (sha, r.environment) for r in results if (sha := _built(r))}
    if len(built) < 2:
        return None
    rank = {tag: i for i, tag in enumerate(order)}
    tags = sorted(built, key=lambda t: (rank.get(t, len(rank)), _tag_key(t)))
    wheels = {tag: built[tag][0] for tag in tags}
    if len(set(wheels.values())) == 1:
        return Agreement("same", wheels)
    by_sha: dict[str, list[str]] = defaultdict(list)
    for tag in tags:
        by_sha[wheels[tag]].append(tag)
    groups = list(by_sha.values())
    reasons = _lock_reasons(groups, {tag: built[tag][1] for tag in tags})
    if not reasons:
        reasons = ["the toolchain and build locks do not explain it: no pin splits the interpreters as the wheels do"]
    return Agreement("differs", wheels, tuple(reasons))


_TAG = re.compile(r"([a-z]+)(\d)(\d+)(.*)")


def _tag_key(tag: str) -> tuple:
    """cp39 < cp310 < cp314 < cp314t: interpreters in version order, not text order."""
    match = _TAG.fullmatch(tag)
    return (match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)) if match else (tag, 0, 0, "")


_PIN = re.compile(r"^[\w ]+: (?:no )?([A-Za-z0-9._-]+?)(?:==| on )")


def named_by(reasons: Sequence[str], differences: Sequence[Difference]) -> tuple[str, ...]:
    """The reasons whose package the differing members name (a WHEEL ``Generator: setuptools (82.0.1)``
    names setuptools); all of them when the members name none."""
    text = " ".join(f"{d.path} {d.detail}" for d in differences).lower()
    named = tuple(r for r in reasons if (m := _PIN.match(r)) and m.group(1).lower() in text)
    return named or tuple(reasons)


def groups(agreement_: Agreement) -> list[tuple[str, tuple[str, ...]]]:
    """(sha256, interpreters that built it), in the order the interpreters appear."""
    by_sha: dict[str, list[str]] = {}
    for tag, sha in agreement_.wheels.items():
        by_sha.setdefault(sha, []).append(tag)
    return [(sha, tuple(tags)) for sha, tags in by_sha.items()]
