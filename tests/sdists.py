"""Tiny sdists made in code, and a local PEP 503 index that serves them (file:// or http)."""

from __future__ import annotations

import hashlib
import html
import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

# An in-tree PEP 517 backend: no build requirements, so no index is needed to build it.
# BEHAVIOUR selects how the build misbehaves.
BACKEND = '''
import base64, hashlib, os, sys, time, zipfile

NAME, VERSION, BEHAVIOUR = {name!r}, {version!r}, {behaviour!r}

def get_requires_for_build_wheel(config_settings=None):
    return []

def _payload():
    if BEHAVIOUR == "random":
        return "TOKEN = %r\\n" % os.urandom(16).hex()
    if BEHAVIOUR == "fail":
        sys.exit("this package does not build")
    if BEHAVIOUR == "sleep":
        time.sleep(600)
    if BEHAVIOUR == "env":
        return "ENV = %r\\n" % sorted(os.environ.items())
    if BEHAVIOUR == "hostile":
        return _attack()
    if BEHAVIOUR == "daemon":
        import subprocess
        subprocess.Popen(["sh", "-c", "setsid sh -c 'while true; do sleep 1; done' &"])
    if BEHAVIOUR == "forkbomb":
        return "FORKED = %d\\n" % _forkbomb()
    if BEHAVIOUR == "rust":
        import subprocess
        subprocess.run(["cargo", "build", "--release", "--manifest-path", "rs/Cargo.toml"], check=True)
        lib = open("rs/target/release/libfixture.so", "rb").read()
        return "LIB_SHA256 = %r\\nCARGO_HOME = %r\\n" % (hashlib.sha256(lib).hexdigest(), os.environ.get("CARGO_HOME"))
    if BEHAVIOUR == "bigfile":
        with open("big.bin", "wb") as handle:
            for _ in range(10 * 1024):  # 10 GiB, a MiB at a time
                handle.write(b"0" * (1 << 20))
    if BEHAVIOUR == "python-version":
        return "PY = %r\\n" % (sys.version_info[:2],)
    if BEHAVIOUR == "build-path":
        return "WHERE = %r\\n" % os.getcwd()
    if BEHAVIOUR == "localtime":
        return "BUILT = %r\\n" % time.strftime("%Y-%m %z", time.localtime())
    if BEHAVIOUR == "umask":
        with open("generated.txt", "w") as handle:
            handle.write("made at build time")
        return "MODE = %o\\n" % (os.stat("generated.txt").st_mode & 0o777)
    if BEHAVIOUR == "hostname":
        import socket
        return "HOST = %r\\n" % socket.gethostname()
    if BEHAVIOUR == "hash-order":
        return "NAMES = %r\\n" % ",".join({{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"}})
    if BEHAVIOUR == "cpu-count":
        return "CPUS = %d\\n" % os.cpu_count()
    if BEHAVIOUR == "user":
        import getpass
        return "BY = %r\\n" % getpass.getuser()
    if BEHAVIOUR == "home":
        return "HOME = %r\\n" % os.path.expanduser("~")
    if BEHAVIOUR == "locale":
        import locale
        locale.setlocale(locale.LC_ALL, "")
        day = time.strftime("%A %d %B", (2000, 1, 1, 0, 0, 0, 5, 1, 0))
        return "DAY = %r\\nCODESET = %r\\n" % (day, locale.nl_langinfo(locale.CODESET))
    if BEHAVIOUR == "file-order":  # what numpy 1.22 did with glob(): the folder's order, unsorted
        return "FILES = %r\\n" % [name for name in os.listdir(".") if not name.startswith(".")]
    if BEHAVIOUR == "kernel":
        import platform
        return "KERNEL = %r\\n" % platform.release()
    if BEHAVIOUR == "exec-path":
        return "FIRST_ON_PATH = %r\\n" % os.environ["PATH"].split(os.pathsep)[0]
    if BEHAVIOUR == "domain":
        with open("/proc/sys/kernel/domainname") as handle:
            return "DOMAIN = %r\\n" % handle.read().strip()
    if BEHAVIOUR == "aslr":
        with open("/proc/self/personality") as handle:
            return "ASLR = %r\\n" % (not int(handle.read(), 16) & 0x0040000)
    if BEHAVIOUR == "environment":  # the names it was given, but for those the time and locale variations add
        return "NAMES = %r\\n" % sorted(n for n in os.environ if not n.startswith(("LD_PRELOAD", "FAKETIME", "LOCPATH")))
    return "VALUE = 1\\n"

def _forkbomb():
    children = 0
    try:
        while True:
            if os.fork() == 0:
                time.sleep(5)
                os._exit(0)
            children += 1
    except OSError:
        return children

def _attack():
    import socket, subprocess
    found = []
    for path in {attack_paths!r}:
        try:
            with open(path, "a") as handle:
                handle.write("forged")
            found.append("wrote " + path)
        except OSError as exc:
            found.append("blocked " + path + ": " + type(exc).__name__)
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2)
        found.append("network reachable")
    except OSError as exc:
        found.append("network blocked: " + type(exc).__name__)
    return "ATTACK = %r\\n" % found

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    dist = NAME.replace("-", "_")
    files = {{
        dist + "/__init__.py": _payload(),
        dist + "-" + VERSION + ".dist-info/METADATA": "Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (NAME, VERSION),
        dist + "-" + VERSION + ".dist-info/WHEEL": "Wheel-Version: 1.0\\nGenerator: fixture\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }}
    record = dist + "-" + VERSION + ".dist-info/RECORD"
    lines = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        lines.append("%s,sha256=%s,%d" % (path, digest, len(text.encode())))
    files[record] = "\\n".join(lines + [record + ",,"]) + "\\n"
    filename = "%s-%s-py3-none-any.whl" % (dist, VERSION)
    if BEHAVIOUR == "symlink-wheel":
        os.symlink("/etc/passwd", os.path.join(wheel_directory, filename))
        return filename
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, text in files.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, text)
    return filename
'''

PYPROJECT_INTREE = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]

[project]
name = "{name}"
version = "{version}"
"""

PYPROJECT_SETUPTOOLS = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
"""

SETUP_EXT = """\
from setuptools import Extension, setup

setup(ext_modules=[Extension("{module}._speedups", ["src/speedups.c"])], packages=["{module}"], package_dir={{"": "src"}})
"""

SPEEDUPS_C = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "Add two integers."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
"""


def _tar(members: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_600_000_000
            tf.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buffer.getvalue()


def intree_sdist(name: str, version: str, behaviour: str = "pure", attack_paths: tuple[str, ...] = (),
                 requires_python: str | None = None) -> bytes:
    """An sdist whose in-tree backend builds a one-module wheel, misbehaving as asked;
    ``requires_python`` goes into its PKG-INFO."""
    top = f"{name}-{version}"
    backend = BACKEND.format(name=name, version=version, behaviour=behaviour, attack_paths=list(attack_paths))
    pkg_info = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python is not None:
        pkg_info += f"Requires-Python: {requires_python}\n"
    return _tar({
        f"{top}/pyproject.toml": PYPROJECT_INTREE.format(name=name, version=version).encode(),
        f"{top}/backend.py": backend.encode(),
        f"{top}/PKG-INFO": pkg_info.encode(),
    })


CARGO_TOML = """\
[package]
name = "fixture"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]
path = "lib.rs"
"""

CARGO_LOCK = """\
# This file is automatically @generated by Cargo.
version = 3

[[package]]
name = "fixture"
version = "0.1.0"
"""


def rust_sdist(name: str, version: str) -> bytes:
    """An in-tree backend that compiles a dependency-free Rust cdylib with cargo."""
    top = f"{name}-{version}"
    backend = BACKEND.format(name=name, version=version, behaviour="rust", attack_paths=[])
    return _tar({
        f"{top}/pyproject.toml": PYPROJECT_INTREE.format(name=name, version=version).encode(),
        f"{top}/backend.py": backend.encode(),
        f"{top}/rs/Cargo.toml": CARGO_TOML.encode(),
        f"{top}/rs/Cargo.lock": CARGO_LOCK.encode(),
        f"{top}/rs/lib.rs": b"#[no_mangle]\npub extern \"C\" fn answer() -> i32 { 42 }\n",
    })


def cext_sdist(name: str, version: str) -> bytes:
    """A setuptools project with one C extension."""
    top = f"{name}-{version}"
    module = name.replace("-", "_")
    return _tar({
        f"{top}/pyproject.toml": PYPROJECT_SETUPTOOLS.format(name=name, version=version).encode(),
        f"{top}/setup.py": SETUP_EXT.format(module=module).encode(),
        f"{top}/src/{module}/__init__.py": b"from ._speedups import add\n",
        f"{top}/src/speedups.c": SPEEDUPS_C.encode(),
        f"{top}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    })


def hostile_sdist(name: str, version: str, kind: str) -> bytes:
    """A tarball that tries to write outside its folder."""
    top = f"{name}-{version}"
    base = {f"{top}/pyproject.toml": PYPROJECT_INTREE.format(name=name, version=version).encode()}
    if kind == "dotdot":
        return _tar({**base, f"{top}/../../escaped.txt": b"escaped"})
    if kind == "absolute":
        return _tar({**base, "/tmp/wheelrepro-escaped.txt": b"escaped"})
    link = tarfile.TarInfo(f"{top}/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd" if kind == "symlink" else "../../outside"
    return _tar(base, [link])


@dataclass
class LocalIndex:
    """A PEP 503 simple index in a folder; ``url`` is file://, ``http_url`` once served."""

    root: Path
    projects: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return (self.root / "simple").as_uri() + "/"

    def add(self, name: str, filename: str, data: bytes, *, published_sha256: str | None = None,
            yanked: bool = False, requires_python: str | None = None) -> str:
        files = self.root / "files"
        files.mkdir(parents=True, exist_ok=True)
        (files / filename).write_bytes(data)
        digest = published_sha256 or hashlib.sha256(data).hexdigest()
        attrs = ' data-yanked=""' if yanked else ""
        if requires_python is not None:  # PEP 503: the attribute is HTML-escaped (>= becomes &gt;=)
            attrs += f' data-requires-python="{html.escape(requires_python)}"'
        self.projects.setdefault(name, []).append((filename, f'<a href="../../files/{filename}#sha256={digest}"{attrs}>{html.escape(filename)}</a>'))
        self._write(name)
        return digest

    def _write(self, name: str) -> None:
        page = self.root / "simple" / name
        page.mkdir(parents=True, exist_ok=True)
        links = "\n".join(link for _, link in self.projects[name])
        (page / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}\n</body></html>\n")
        top = "\n".join(f'<a href="{n}/">{n}</a>' for n in sorted(self.projects))
        (self.root / "simple" / "index.html").write_text(f"<!DOCTYPE html><html><body>{top}</body></html>\n")


# A C extension the project's own switch leaves out, as projects that also publish a pure wheel do.
SETUP_SWITCH = """\
import os
from setuptools import Extension, setup

NO_EXTENSIONS = {condition}
setup(ext_modules=[] if NO_EXTENSIONS else [Extension("{module}._speedups", ["src/speedups.c"])],
      packages=["{module}"], package_dir={{"": "src"}})
"""
SWITCH_CONDITIONS = {
    "env": 'bool(os.environ.get("FIXTURE_NO_EXTENSIONS"))',  # the usual *_NO_EXTENSIONS
    "config": 'os.environ.get("CFIXTURE_MODE") == "pure"',  # set by the in-tree backend below
    "ignored": 'bool(os.environ.get("FIXTURE_NO_EXTENSIONS")) and False',  # read, and then not obeyed
    "none": "False",  # no switch at all
}
# An in-tree backend wrapping setuptools that reads a PEP 517 config setting, like aio-libs' backends.
SWITCH_BACKEND = '''\
import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 - every other hook as setuptools has it

PURE_PYTHON_CONFIG_SETTING = "pure-python"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    settings = dict(config_settings or {})
    if settings.pop(PURE_PYTHON_CONFIG_SETTING, "false") == "true":
        os.environ["CFIXTURE_MODE"] = "pure"
    return _setuptools.build_wheel(wheel_directory, settings, metadata_directory)
'''
SWITCH_INIT = b"""try:
    from ._speedups import add
except ImportError:  # the pure build
    def add(a, b):
        return a + b
"""


def switch_sdist(name: str, version: str, switch: str) -> bytes:
    """A setuptools project with one C extension, and ``switch`` (a key of SWITCH_CONDITIONS) to leave it out."""
    top = f"{name}-{version}"
    module = name.replace("-", "_")
    pyproject = PYPROJECT_SETUPTOOLS.replace('requires = ["setuptools"]', 'requires = ["setuptools>=64"]')
    members = {f"{top}/setup.py": SETUP_SWITCH.format(module=module, condition=SWITCH_CONDITIONS[switch]).encode()}
    if switch == "config":
        pyproject = pyproject.replace('build-backend = "setuptools.build_meta"',
                                      'build-backend = "backend"\nbackend-path = ["_build"]')
        members[f"{top}/_build/backend.py"] = SWITCH_BACKEND.encode()
    return _tar({
        f"{top}/pyproject.toml": pyproject.format(name=name, version=version).encode(), **members,
        f"{top}/src/{module}/__init__.py": SWITCH_INIT,
        f"{top}/src/speedups.c": SPEEDUPS_C.encode(),
        f"{top}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
    })
