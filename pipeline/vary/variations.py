"""Each variation is a function from the controlled build settings to a changed copy (reprotest-style).

A variation this machine cannot apply raises :class:`VariationUnavailable`; it is recorded
``not-tested``, never ``same``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..engine import sandbox
from ..engine.build import BuildSettings
from ..errors import VariationUnavailable
from ..records import VARIATIONS

ALT_BUILD_ROOT = Path("/tmp/wheelrepro-alt")
TIME_SHIFT_SECONDS = 400 * 86400  # the clock 400 days ahead (SOURCE_DATE_EPOCH is untouched)
TIME_SHIFT = "+400d"  # the same in libfaketime's syntax (unsandboxed builds, or no C compiler)
TIMEZONE = "Pacific/Chatham"  # UTC+12:45/+13:45: differs from UTC in hours, minutes and date
TIMEZONE_RULE = "<+1245>-12:45"  # the same offset as a POSIX rule, for machines without tzdata
PREFERRED_LOCALES = ("fr_FR.UTF-8", "de_DE.UTF-8", "tr_TR.UTF-8", "en_US.UTF-8")
UMASK = 0o002
HOSTNAME = "varied-host"
HASH_SEED = "12345"
HOME = "/tmp/varied-home"
USER = "varied"  # and another unprivileged uid: the leased one's twin in the pool's upper half
EXEC_PATH = "/tmp/varied-bin"  # an empty folder put first on PATH (commands resolve as before)
DOMAIN = "varied-domain"  # the NIS domain name; the controlled build keeps the host's (usually "(none)")
SETARCH = "setarch"  # util-linux: runs a command under a personality (kept across exec and fork)
KERNEL = "--uname-2.6"  # the UNAME26 personality: uname reports release 2.6.x
NO_ASLR = "--addr-no-randomize"  # the ADDR_NO_RANDOMIZE personality: addresses repeat from run to run
EXTRA_VARIABLE = ("WHEELREPRO_EXTRA", "varied-environment")  # a variable no build expects
FAKETIME_LIBS = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
                 "/usr/local/lib/faketime/libfaketime.so.1")


@dataclass(frozen=True)
class Machine:
    """What this machine lets a build vary (probed once; plain values so tests can make one)."""

    isolated: bool  # bubblewrap: a UTS namespace for the hostname, setpriv for the uid
    faketime: str | None = None  # libfaketime's path
    #: what shows a sandboxed build the tracker's own clock library, TIME_SHIFT_SECONDS ahead (engine.clock)
    clock: tuple[sandbox.Mount, ...] = ()
    locale: Mapping[str, str] | None = None  # the locale variation's variables
    locale_dir: str | None = None  # LOCPATH folder of a locale compiled by the tracker
    cpus: frozenset[int] = frozenset()  # this process's CPU affinity
    zoneinfo: bool = True  # /usr/share/zoneinfo/Pacific/Chatham exists
    #: variation -> why the probe (run in the sandbox) found it has no effect here: file_order, kernel, domain, aslr
    unusable: Mapping[str, str] = field(default_factory=dict)


def _with_env(settings: BuildSettings, **values: str) -> dict[str, str]:
    env = dict(settings.env_vars)
    env.update(values)
    return env


def build_path(settings: BuildSettings, machine: Machine) -> BuildSettings:
    where = ALT_BUILD_ROOT / settings.build_dir.parent.name / settings.build_dir.name
    return dataclasses.replace(settings, build_dir=where)


def time(settings: BuildSettings, machine: Machine) -> BuildSettings:
    """In the sandbox, the tracker's clock library through the sandbox's own /etc/ld.so.preload (nothing in
    the environment, and rustc runs under it); libfaketime, which deadlocks rustc, only where that cannot be."""
    if machine.isolated and machine.clock:
        return dataclasses.replace(settings, mounts=settings.mounts + machine.clock)
    if machine.faketime is None:
        raise VariationUnavailable("time", "no C compiler for the clock library, and libfaketime is not installed"
                                   if machine.isolated else "libfaketime is not installed: apt-get install faketime")
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


def _needs_sandbox(name: str, what: str, machine: Machine) -> None:
    """A variation only the sandbox can apply is not tested when builds run --unsandboxed."""
    if not machine.isolated:
        raise VariationUnavailable(name, f"needs {what}, and builds run --unsandboxed")


def hostname(settings: BuildSettings, machine: Machine) -> BuildSettings:
    _needs_sandbox("hostname", "the sandbox's UTS namespace", machine)
    return dataclasses.replace(settings, hostname=HOSTNAME)


def hash_seed(settings: BuildSettings, machine: Machine) -> BuildSettings:
    return dataclasses.replace(settings, env_vars=_with_env(settings, PYTHONHASHSEED=HASH_SEED))


def home(settings: BuildSettings, machine: Machine) -> BuildSettings:
    return dataclasses.replace(settings, home=HOME)


def user(settings: BuildSettings, machine: Machine) -> BuildSettings:
    _needs_sandbox("user", "the sandbox to switch uid", machine)
    return dataclasses.replace(settings, user=USER, uid=settings.uid + sandbox.UID_POOL)


def cpu_count(settings: BuildSettings, machine: Machine) -> BuildSettings:
    if len(machine.cpus) < 2:
        raise VariationUnavailable("cpu_count", "this machine gives the tracker one CPU")
    if not machine.isolated:  # affinity alone: os.cpu_count() reads /sys, which only the sandbox replaces
        raise VariationUnavailable("cpu_count", "without the sandbox os.cpu_count() would still see every CPU")
    return dataclasses.replace(settings, cpus=frozenset({min(machine.cpus)}))


def _probed(name: str, machine: Machine) -> None:
    if name in machine.unusable:
        raise VariationUnavailable(name, machine.unusable[name])


def file_order(settings: BuildSettings, machine: Machine) -> BuildSettings:
    _needs_sandbox("file_order", "the sandbox to mount disorderfs", machine)
    _probed("file_order", machine)
    return dataclasses.replace(settings, reordered=True)


def _personality(settings: BuildSettings, option: str) -> BuildSettings:
    # one setarch for both personalities: a nested setarch sets its own and drops the outer one's
    rest = settings.wrapper[1:] if settings.wrapper[:1] == (SETARCH,) else settings.wrapper
    return dataclasses.replace(settings, wrapper=(SETARCH, option, *rest))


def kernel(settings: BuildSettings, machine: Machine) -> BuildSettings:
    _probed("kernel", machine)
    return _personality(settings, KERNEL)


def exec_path(settings: BuildSettings, machine: Machine) -> BuildSettings:
    return dataclasses.replace(settings, path_dirs=(EXEC_PATH, *settings.path_dirs), dirs=(*settings.dirs, EXEC_PATH))


def domain(settings: BuildSettings, machine: Machine) -> BuildSettings:
    _needs_sandbox("domain", "the sandbox's UTS namespace", machine)
    _probed("domain", machine)
    return dataclasses.replace(settings, domainname=DOMAIN)


def aslr(settings: BuildSettings, machine: Machine) -> BuildSettings:
    _probed("aslr", machine)
    return _personality(settings, NO_ASLR)


def environment(settings: BuildSettings, machine: Machine) -> BuildSettings:
    name, value = EXTRA_VARIABLE
    return dataclasses.replace(settings, env_vars=_with_env(settings, **{name: value}))


Variation = Callable[[BuildSettings, Machine], BuildSettings]
#: name -> how it changes a build; the keys are exactly records.VARIATIONS, in that order
APPLY: dict[str, Variation] = {
    "build_path": build_path, "time": time, "timezone": timezone, "locale": locale, "umask": umask,
    "hostname": hostname, "hash_seed": hash_seed, "home": home, "user": user, "cpu_count": cpu_count,
    "file_order": file_order, "kernel": kernel, "exec_path": exec_path, "domain": domain, "aslr": aslr,
    "environment": environment,
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
