"""The strict check: rebuild under changed conditions and find what the wheel is sensitive to.

Each variation is a function from the controlled :class:`BuildSettings` to a changed copy
(reprotest-style, one named thing each).  What this machine can vary is probed once
(:func:`probe_machine`); a variation it cannot apply raises :class:`VariationUnavailable` and is
recorded ``not-tested``, never ``same``.

The search (:func:`search_sensitive`) is pure over an injected ``build(frozenset) -> sha256``.
It adds the variations along one path (in :data:`VARIATIONS` order) and bisects between builds
whose hashes differ: a stretch of the path whose two ends give the same wheel is taken to hold no
change.  A package sensitive to one variation of ten therefore costs the all-variations build
plus at most ceil(log2(10)) = 4 more, because a half whose build equals either end is settled
by that one build.  Each variation named in ``sensitive_to`` is one whose addition changed the
wheel in a measured pair of builds.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from ..engine import sandbox
from ..engine.build import BuildSettings
from ..errors import VariationUnavailable
from ..records import VARIATIONS, Difference, VariationOutcome
from ..records import Build as BuildRecord

#: variation builds happen here instead of the controlled /tmp/wheelrepro/<tag>/<name>-<version>
ALT_BUILD_ROOT = Path("/tmp/wheelrepro-alt")
TIME_SHIFT = "+400d"  # libfaketime's offset syntax: 400 days ahead (SOURCE_DATE_EPOCH is untouched)
TIMEZONE = "Pacific/Chatham"  # UTC+12:45/+13:45: differs from UTC in hours, minutes and date
TIMEZONE_RULE = "<+1245>-12:45"  # the same offset as a POSIX rule, for machines without tzdata
PREFERRED_LOCALES = ("fr_FR.UTF-8", "de_DE.UTF-8", "tr_TR.UTF-8", "en_US.UTF-8")
UMASK = 0o002
HOSTNAME = "varied-host"
HASH_SEED = "12345"
HOME = "/tmp/varied-home"
USER = "varied"  # and another unprivileged uid: the leased one's twin in the pool's upper half
FAKETIME_LIBS = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
                 "/usr/local/lib/faketime/libfaketime.so.1")


@dataclass(frozen=True)
class Machine:
    """What this machine lets a build vary (probed once; plain values so tests can make one)."""

    isolated: bool  # bubblewrap: a UTS namespace for the hostname, setpriv for the uid
    faketime: str | None = None  # libfaketime's path
    locale: Mapping[str, str] | None = None  # the locale variation's variables
    locale_dir: str | None = None  # LOCPATH folder of a locale compiled by the tracker
    cpus: frozenset[int] = frozenset()  # this process's CPU affinity
    zoneinfo: bool = True  # /usr/share/zoneinfo/Pacific/Chatham exists


def _with_env(settings: BuildSettings, **values: str) -> dict[str, str]:
    env = dict(settings.env_vars)
    env.update(values)
    return env


def build_path(settings: BuildSettings, machine: Machine) -> BuildSettings:
    where = ALT_BUILD_ROOT / settings.build_dir.parent.name / settings.build_dir.name
    return dataclasses.replace(settings, build_dir=where)


def time(settings: BuildSettings, machine: Machine) -> BuildSettings:
    if machine.faketime is None:
        raise VariationUnavailable("time", "libfaketime is not installed: apt-get install faketime")
    # LD_PRELOAD directly, not the `faketime` program: its sem_open needs a /dev/shm the build uid can write
    wrapper = ("env", f"LD_PRELOAD={machine.faketime}", f"FAKETIME={TIME_SHIFT}", *settings.wrapper)
    return dataclasses.replace(settings, wrapper=wrapper)


def timezone(settings: BuildSettings, machine: Machine) -> BuildSettings:
    return dataclasses.replace(settings, env_vars=_with_env(settings, TZ=TIMEZONE if machine.zoneinfo else TIMEZONE_RULE))


def locale(settings: BuildSettings, machine: Machine) -> BuildSettings:
    if not machine.locale or all(settings.env_vars.get(k) == v for k, v in machine.locale.items()):
        raise VariationUnavailable("locale", "no locale other than the controlled one is usable here")
    mounts = settings.mounts + ((sandbox.Mount(machine.locale_dir),) if machine.locale_dir else ())
    return dataclasses.replace(settings, env_vars=_with_env(settings, **machine.locale), mounts=mounts)


def umask(settings: BuildSettings, machine: Machine) -> BuildSettings:
    return dataclasses.replace(settings, umask=UMASK)


def hostname(settings: BuildSettings, machine: Machine) -> BuildSettings:
    if not machine.isolated:
        raise VariationUnavailable("hostname", "needs the sandbox's UTS namespace, and builds run --unsandboxed")
    return dataclasses.replace(settings, hostname=HOSTNAME)


def hash_seed(settings: BuildSettings, machine: Machine) -> BuildSettings:
    return dataclasses.replace(settings, env_vars=_with_env(settings, PYTHONHASHSEED=HASH_SEED))


def home(settings: BuildSettings, machine: Machine) -> BuildSettings:
    return dataclasses.replace(settings, home=HOME)


def user(settings: BuildSettings, machine: Machine) -> BuildSettings:
    if not machine.isolated:
        raise VariationUnavailable("user", "needs the sandbox to switch uid, and builds run --unsandboxed")
    return dataclasses.replace(settings, user=USER, uid=settings.uid + sandbox.UID_POOL)


def cpu_count(settings: BuildSettings, machine: Machine) -> BuildSettings:
    if len(machine.cpus) < 2:
        raise VariationUnavailable("cpu_count", "this machine gives the tracker one CPU")
    if not machine.isolated:  # affinity alone: os.cpu_count() reads /sys, which only the sandbox replaces
        raise VariationUnavailable("cpu_count", "without the sandbox os.cpu_count() would still see every CPU")
    return dataclasses.replace(settings, cpus=frozenset({min(machine.cpus)}))


Variation = Callable[[BuildSettings, Machine], BuildSettings]
#: name -> how it changes a build; the keys are exactly records.VARIATIONS, in that order
APPLY: dict[str, Variation] = {
    "build_path": build_path, "time": time, "timezone": timezone, "locale": locale, "umask": umask,
    "hostname": hostname, "hash_seed": hash_seed, "home": home, "user": user, "cpu_count": cpu_count,
}
assert tuple(APPLY) == VARIATIONS


def vary(settings: BuildSettings, names: Iterable[str], machine: Machine) -> BuildSettings:
    """The settings with each named variation applied (in the canonical order) and recorded."""
    chosen = [name for name in VARIATIONS if name in set(names)]
    for name in chosen:
        settings = APPLY[name](settings, machine)
    return dataclasses.replace(settings, variations=tuple(chosen))


def unavailable(settings: BuildSettings, machine: Machine) -> dict[str, str]:
    """Variations this machine cannot apply, with the reason for each."""
    reasons = {}
    for name, apply in APPLY.items():
        try:
            apply(settings, machine)
        except VariationUnavailable as exc:
            reasons[name] = exc.reason
    return reasons


# -- the search (pure) ---------------------------------------------------------------------------
Builder = Callable[[frozenset[str]], "str | None"]


@dataclass(frozen=True)
class Search:
    """Outcome of the search: each tested variation's verdict, and every build it cost."""

    variations: dict[str, VariationOutcome]
    sensitive_to: tuple[str, ...]
    probes: tuple[tuple[frozenset[str], str | None], ...] = field(default=())

    @property
    def builds(self) -> int:
        return len(self.probes)

    @property
    def all_varied(self) -> str | None:
        """The hash of the build with every tested variation (the first probe)."""
        return self.probes[0][1] if self.probes else None


def search_sensitive(names: Sequence[str], controlled: str, build: Builder) -> Search:
    """Which of ``names`` change the wheel whose controlled hash is ``controlled``.

    ``build`` returns the wheel's sha256 under a set of variations (None when no wheel came out,
    which counts as a different outcome).  One build with everything; bisection only if it differs.
    """
    order = tuple(name for name in VARIATIONS if name in set(names)) + tuple(n for n in names if n not in VARIATIONS)
    probes: list[tuple[frozenset[str], str | None]] = []

    def measure(subset: tuple[str, ...]) -> str | None:
        sha = build(frozenset(subset))
        probes.append((frozenset(subset), sha))
        return sha

    def find(group: tuple[str, ...], background: tuple[str, ...], low: str | None, high: str | None) -> list[str]:
        # builds with `background` give `low`, with background + group give `high`, and low != high
        if len(group) == 1:
            return [group[0]]
        half = (len(group) + 1) // 2
        left, right = group[:half], group[half:]
        middle = measure(background + left)
        if middle == low:
            return find(right, background + left, low, high)
        if middle == high:
            return find(left, background, low, high)
        return find(left, background, low, middle) + find(right, background + left, middle, high)

    if not order:
        return Search({}, ())
    everything = measure(order)
    sensitive = [] if everything == controlled else find(order, (), controlled, everything)
    verdicts: dict[str, VariationOutcome] = {n: "differs" if n in sensitive else "same" for n in order}
    return Search(verdicts, tuple(sensitive), tuple(probes))


def all_outcomes(search: Search, untested: Iterable[str]) -> dict[str, VariationOutcome]:
    """Every variation name with its verdict, in the canonical order."""
    merged: dict[str, VariationOutcome] = {name: "not-tested" for name in untested}
    merged.update(search.variations)
    return {name: merged.get(name, "not-tested") for name in VARIATIONS}


# -- running it: real builds behind the search -----------------------------------------------------
BuildOne = Callable[[BuildSettings, str], "tuple[BuildRecord, str]"]


@dataclass(frozen=True)
class VaryOutcome:
    """What the strict check adds to a reproducible result."""

    variations: dict[str, VariationOutcome]
    sensitive_to: tuple[str, ...]
    builds: tuple[BuildRecord, ...]
    differences: tuple[Difference, ...]
    message: str


def run_variations(controlled: BuildRecord, base: BuildSettings, machine: Machine, build_one: BuildOne,
                   compare: Callable[[Path, Path], Sequence[Difference]]) -> VaryOutcome:
    """Search with real builds: ``build_one(settings, label)`` builds once, ``compare`` explains."""
    skipped = unavailable(base, machine)
    builds: list[BuildRecord] = []
    failures: list[str] = []

    def build(subset: frozenset[str]) -> str | None:
        record, reason = build_one(vary(base, subset, machine), f"vary-{len(builds) + 1}")
        builds.append(record)
        if reason:
            failures.append(f"{'+'.join(record.variations)}: {reason}")
        return record.sha256

    search = search_sensitive([n for n in VARIATIONS if n not in skipped], controlled.sha256, build)
    differences: tuple[Difference, ...] = ()
    if builds and builds[0].path and builds[0].sha256 != controlled.sha256:
        differences = tuple(compare(Path(controlled.path), Path(builds[0].path)))
    notes = [f"not tested: {', '.join(f'{n} ({why})' for n, why in skipped.items())}"] if skipped else []
    if failures:
        notes.append(f"variation builds without a wheel: {'; '.join(failures)}")
    return VaryOutcome(all_outcomes(search, skipped), search.sensitive_to, tuple(builds), differences, "; ".join(notes))


# -- probing the machine (I/O) -------------------------------------------------------------------
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
