"""A wall clock moved forward for one build, without touching its environment variables.

libfaketime deadlocks programs linked with jemalloc (rustc hangs at start under it), and its
LD_PRELOAD and FAKETIME variables would show in the build's environment.  Instead the tracker
compiles (once, with the machine's C compiler) a tiny library of its own that adds a constant to
CLOCK_REALTIME in ``clock_gettime``, ``gettimeofday``, ``time`` and ``timespec_get``, calling the
kernel directly (no allocation, no lookup, so nothing to deadlock), and the sandbox loads it through
its own ``/etc/ld.so.preload``.  Statically linked programs and the times the kernel stamps on files
are not moved.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import programs
from .net import atomic_write
from .sandbox import Mount

LIBRARY = "/opt/wheelrepro/clock.so"

SOURCE = r"""
#define _GNU_SOURCE
#define clock_gettime wheelrepro_hidden_clock_gettime
#define gettimeofday wheelrepro_hidden_gettimeofday
#define time wheelrepro_hidden_time
#define timespec_get wheelrepro_hidden_timespec_get
#include <time.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <unistd.h>
#undef clock_gettime
#undef gettimeofday
#undef time
#undef timespec_get

static int kernel_clock(clockid_t id, struct timespec *ts) {
    return (int)syscall(SYS_clock_gettime, id, ts);
}

static int moved(clockid_t id) {
    return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE
#ifdef CLOCK_TAI
        || id == CLOCK_TAI
#endif
        ;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    int rc = kernel_clock(id, ts);
    if (rc == 0 && ts != 0 && moved(id)) ts->tv_sec += SHIFT;
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    if (kernel_clock(CLOCK_REALTIME, &ts) != 0) return -1;
    if (tv != 0) { tv->tv_sec = ts.tv_sec + SHIFT; tv->tv_usec = ts.tv_nsec / 1000; }
    if (tz != 0) { ((int *)tz)[0] = 0; ((int *)tz)[1] = 0; }
    return 0;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (kernel_clock(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
    if (out != 0) *out = ts.tv_sec + SHIFT;
    return ts.tv_sec + SHIFT;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0) return 0;
    return base;
}
"""


def compiled(cache: Path, seconds: int) -> Path | None:
    """The library moving the clock ``seconds`` ahead, built once into ``cache``; None without a C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    key = hashlib.sha256(f"{SOURCE}\n{seconds}\n{os.path.realpath(compiler)}".encode()).hexdigest()[:16]
    library = cache / f"clock-{seconds}-{key}.so"
    if library.is_file():
        return library
    cache.mkdir(parents=True, exist_ok=True)
    source = cache / f".clock-{key}-{os.getpid()}.c"
    staging = cache / f".clock-{key}-{os.getpid()}.so"
    try:
        source.write_text(SOURCE)
        # the compiler's own temporary files in a folder of this process's (a stopped run removes it)
        with tempfile.TemporaryDirectory(prefix="cc-") as scratch:
            proc = programs.run([compiler, "-O2", "-shared", "-fPIC", f"-DSHIFT={int(seconds)}", "-o", str(staging),
                                 str(source)], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "TMPDIR": scratch})
        if proc.returncode != 0:
            return None
        staging.chmod(0o644)
        os.replace(staging, library)
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        source.unlink(missing_ok=True)
        staging.unlink(missing_ok=True)
    return library


def mounts(library: Path) -> tuple[Mount, ...]:
    """What a build needs to see its clock moved: the library, and an /etc/ld.so.preload naming it."""
    preload = library.with_name(library.name + ".preload")
    if not preload.is_file():
        atomic_write(preload, f"{LIBRARY}\n".encode())
        preload.chmod(0o644)
    return Mount(str(library), target=LIBRARY), Mount(str(preload), target="/etc/ld.so.preload")
