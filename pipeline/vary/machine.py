"""What this machine lets a build vary, probed once (I/O): libfaketime, a usable locale, CPUs, tzdata,
and, tried in the sandbox itself, the reordered folder, the uname and ASLR personalities and the domain name."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..engine import clock, fileorder, programs, sandbox
from ..errors import PipelineError
from .variations import (DOMAIN, FAKETIME_LIBS, KERNEL, NO_ASLR, PREFERRED_LOCALES, SETARCH, TIME_SHIFT_SECONDS, TIMEZONE,
                         Machine)

ADDR_NO_RANDOMIZE = 0x0040000
PROBE_ORDER = "/tmp/probe-order"
#: what the probes print, one "key value" a line; run as the build uid under the build's seccomp filter
PERSONALITY_SCRIPT = f"""
echo "release $(uname -r)"
echo "release-varied $({SETARCH} {KERNEL} uname -r)"
echo "randomize $(cat /proc/sys/kernel/randomize_va_space)"
echo "personality-varied $({SETARCH} {NO_ASLR} cat /proc/self/personality)"
"""
DOMAIN_SCRIPT = 'echo "domain $(cat /proc/sys/kernel/domainname)"'
ORDER_SCRIPT = f"""
cd {PROBE_ORDER} && touch a b c d e && mkdir f && touch f/g f/h
echo "seen $(ls -f {PROBE_ORDER} | tr '\n' ' ')"
echo "made $(ls -f {fileorder.BACKING} | tr '\n' ' ')"
"""

def faketime_library() -> str | None:
    for pattern in FAKETIME_LIBS:
        for path in sorted(glob.glob(pattern)):
            return path
    return None


def _normal(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def _installed_locale() -> str | None:
    try:
        listed = programs.run(["locale", "-a"], capture_output=True, text=True, timeout=20).stdout.split()
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
        programs.run(["localedef", "-i", "fr_FR", "-f", "UTF-8", str(staging)], capture_output=True, timeout=120)
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


def _run_probe(script: str, isolated: bool, **spec: object) -> tuple[dict[str, str], str]:
    """The probe's "key value" lines, and why it failed ("" when it ran)."""
    argv = ("/bin/sh", "-c", script)
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}
    if isolated:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "probe.log"
            try:
                outcome = sandbox.run(sandbox.BACKENDS["bubblewrap"](), sandbox.Spec(argv=argv, env=env, cwd="/", **spec),
                                      sandbox.Limits(timeout=60), log)
            except PipelineError as exc:
                return {}, str(exc)
            text = log.read_text(errors="replace")
        code = outcome.returncode
    else:
        try:
            done = programs.run(argv, env=env, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return {}, str(exc)
        text, code = done.stdout + done.stderr, done.returncode
    lines = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
    if code != 0:
        return lines, f"the probe exited with {code}: {text.strip().splitlines()[-2:-1]}"
    return lines, ""


def _entries(listing: str) -> list[str]:
    return [name for name in listing.split() if name not in (".", "..")]


def probe_unusable(isolated: bool) -> dict[str, str]:
    """Variations that would change nothing here (or cannot be set up), each with the reason."""
    reasons: dict[str, str] = {}
    seen, failed = _run_probe(PERSONALITY_SCRIPT, isolated)
    release, varied = seen.get("release", ""), seen.get("release-varied", "")
    if failed or not varied or varied == release:
        reasons["kernel"] = f"setarch {KERNEL} did not change the kernel release ({failed or varied or 'no output'})"
    if seen.get("randomize", "").strip() == "0":
        reasons["aslr"] = "address-space randomisation is already off on this machine (kernel.randomize_va_space=0)"
    else:
        try:
            flags = int(seen.get("personality-varied", ""), 16)
        except ValueError:
            flags = 0
        if failed or not flags & ADDR_NO_RANDOMIZE:
            reasons["aslr"] = f"setarch {NO_ASLR} could not turn address-space randomisation off ({failed or 'no effect'})"
    if isolated:
        seen, failed = _run_probe(DOMAIN_SCRIPT, isolated, domainname=DOMAIN)
        if failed or seen.get("domain", "").strip() != DOMAIN:
            reasons["domain"] = f"the domain name could not be set in the sandbox ({failed or seen.get('domain')})"
        why = fileorder.unavailable()
        if why is None:
            seen, failed = _run_probe(ORDER_SCRIPT, isolated, reordered=PROBE_ORDER)
            made, shown = _entries(seen.get("made", "")), _entries(seen.get("seen", ""))
            if failed or len(made) < 2 or sorted(made) != sorted(shown):
                why = f"disorderfs did not show the folder ({failed or 'its entries differ'})"
            elif made == shown:
                why = "disorderfs mounted, but the folder's entries came back in the same order"
        if why:
            reasons["file_order"] = why
    return reasons


def probe_machine(cache: Path, isolated: bool, clock_cache: Path | None = None) -> Machine:
    """What this machine can vary; ``cache`` keeps a compiled locale between runs, ``clock_cache`` the
    clock library the ``time`` variation shows a sandboxed build."""
    variables, folder = choose_locale(cache)
    library = clock.compiled(clock_cache, TIME_SHIFT_SECONDS) if isolated and clock_cache else None
    return Machine(
        isolated=isolated,
        faketime=faketime_library(),
        clock=clock.mounts(library) if library else (),
        locale=variables,
        locale_dir=folder,
        cpus=frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset(),
        zoneinfo=Path("/usr/share/zoneinfo", TIMEZONE).exists(),
        unusable=probe_unusable(isolated),
    )
