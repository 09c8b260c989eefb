"""What this machine lets a build vary, probed once (I/O): libfaketime, a usable locale, CPUs, tzdata."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from .variations import FAKETIME_LIBS, PREFERRED_LOCALES, TIMEZONE, Machine

def faketime_library() -> str | None:
    for pattern in FAKETIME_LIBS:
        for path in sorted(glob.glob(pattern)):
            return path
    return None


def _normal(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _installed_locale() -> str | None:
    try:
        listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=20).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    usable = [name for name in listed if _normal(name).split(".")[0] not in ("c", "posix")]
    by_normal = {_normal(name): name for name in usable}
    for wanted in PREFERRED_LOCALES:
        if _normal(wanted) in by_normal:
            return by_normal[_normal(wanted)]
    return usable[0] if usable else None


def _compiled_locale(cache: Path) -> str | None:
    """fr_FR.UTF-8 compiled from the machine's locale sources into ``cache`` (once), or None."""
    name = PREFERRED_LOCALES[0]
    target = cache / name
    if (target / "LC_CTYPE").exists():
        return str(cache)
    if not shutil.which("localedef") or not Path("/usr/share/i18n/locales/fr_FR").exists():
        return None
    staging = cache / f".{name}.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    cache.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(["localedef", "-i", "fr_FR", "-f", "UTF-8", str(staging)], capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    if not (staging / "LC_CTYPE").exists():  # localedef exits 1 on mere warnings: judge by the output
        shutil.rmtree(staging, ignore_errors=True)
        return None
    try:
        os.replace(staging, target)
    except OSError:  # another check compiled it first
        shutil.rmtree(staging, ignore_errors=True)
    for root, dirs, files in os.walk(cache):
        os.chmod(root, 0o755)
        for file in files:
            os.chmod(os.path.join(root, file), 0o644)
    return str(cache)


def choose_locale(cache: Path) -> tuple[dict[str, str] | None, str | None]:
    """The locale variation's variables (and a LOCPATH folder if the tracker compiled it)."""
    installed = _installed_locale()
    if installed:
        return {"LC_ALL": installed, "LANG": installed}, None
    compiled = _compiled_locale(cache)
    if compiled:
        name = PREFERRED_LOCALES[0]
        return {"LC_ALL": name, "LANG": name, "LOCPATH": compiled}, compiled
    # the C locale is still another codeset than the controlled C.UTF-8, and LANG is visible
    return {"LC_ALL": "C", "LANG": PREFERRED_LOCALES[0]}, None


def probe_machine(cache: Path, isolated: bool) -> Machine:
    """What this machine can vary; ``cache`` keeps a compiled locale between runs."""
    variables, folder = choose_locale(cache)
    return Machine(
        isolated=isolated,
        faketime=faketime_library(),
        locale=variables,
        locale_dir=folder,
        cpus=frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset(),
        zoneinfo=Path("/usr/share/zoneinfo", TIMEZONE).exists(),
    )
