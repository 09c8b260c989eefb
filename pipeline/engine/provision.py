"""Make the pinned environment for one sdist x interpreter: resolve its build lock, fill the venv.

Everything runs in the sandbox as the build uid.  The steps with the network run no package code:
uv resolves wheels only (``--no-build``: metadata from the index or the wheel, never a setup.py)
and installs hash-locked wheels (no code runs to install a wheel) into a new, empty venv.  A
requirement with only an sdist is reported (:class:`SdistOnlyRequirements`), to be built offline
first.  The build-requirement hook, which does run package code, runs offline.  Each step has its
own uv cache on the sandbox's private /tmp, gone with it: no cache is shared between builds.
Answers (the lock, the hook's list) come back through a pipe, never a file a build wrote.
"""

from __future__ import annotations

import datetime as dt

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Callable, TypeVar

from . import environments, layout, sandbox, toolchains
from ..errors import BuildRequirementsFailed, EnvironmentFailed, SdistOnlyRequirements
from .interpreters import Interpreter
from .net import atomic_write
from ..records import Environment
from .workspace import SOURCE_DATE_EPOCH, Workspace

T = TypeVar("T")

UV = f"{layout.TOOLS}/uv"
INPUT = f"{layout.TOOLS}/in"  # requirement and lock files the tracker wrote, read-only
CA_BUNDLE = f"{layout.TOOLS}/ca.pem"
ANSWER_CAP = 4 * 1024**2
#: crates live at a fixed path in every sandbox (on its private /tmp): their source paths end up in binaries
CARGO_HOME = "/tmp/wheelrepro-cargo"
CARGO_FOLDERS = ("registry/index", "registry/cache", "registry/src", "git/db", "git/checkouts")

_HOOK = """
import json, os, sys
from build import ProjectBuilder
builder = ProjectBuilder(sys.argv[1], python_executable=sys.executable)
missing = sorted({chain[0] for chain in builder.check_dependencies("wheel")})
with os.fdopen(int(os.environ["WHEELREPRO_CHANNEL"]), "w") as channel:
    channel.write(json.dumps(missing))
"""
#: what uv says when the index, not the package, is the problem
NETWORK_TROUBLE = ("Failed to fetch", "error sending request", "dns error", "tcp connect error", "Connection refused",
                   "timed out", "invalid peer certificate", "Could not connect", "failed to lookup address",
                   "Request failed after", "Failed to download")
_SDIST_ONLY = (re.compile(r"(?:Because|and) (?:all versions of |only )?([A-Za-z0-9][A-Za-z0-9._-]*?)(?:[<>=!~]=?\S*)? "
                          r"ha(?:s|ve) no usable wheels"),
               re.compile(r"Wheels are required for `([^`]+)`"))
#: the machine's trusted CAs (a TLS-inspecting proxy's CA is often only there)
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def ca_bundle() -> str | None:
    for variable in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"):
        if os.environ.get(variable) and os.path.isfile(os.environ[variable]):
            return os.environ[variable]
    return next((path for path in CA_BUNDLES if os.path.isfile(path)), None)


def _read_capped(stream: BinaryIO) -> bytes:
    data = stream.read(ANSWER_CAP + 1)
    if len(data) > ANSWER_CAP:
        raise EnvironmentFailed("reading a sandboxed step's answer", f"over {ANSWER_CAP} bytes")
    return data


@dataclass(frozen=True)
class Provisioner:
    """What provisioning needs from the run: where things go and how code is confined."""

    workspace: Workspace
    backend: sandbox.Backend
    limits: sandbox.Limits
    pip_source: environments.PipSource
    _views: dict = field(default_factory=dict, compare=False, repr=False)

    def python(self, interpreter: Interpreter) -> layout.PythonView:
        """The interpreter as sandboxed commands see it (made once per run)."""
        if interpreter.path not in self._views:
            self._views[interpreter.path] = layout.python_view(interpreter, self.workspace.interpreters)
        return self._views[interpreter.path]

    def inputs(self, interpreter: Interpreter) -> dict[str, str]:
        """What besides the locks changes bytes, as recorded: interpreter build, compilers, path layout."""
        return toolchains.inputs(interpreter, self.backend.layout)

    def mounts(self, python: layout.PythonView, *, network: bool) -> list[sandbox.Mount]:
        mounts = [sandbox.Mount(python.host_prefix, target=python.prefix),
                  *(sandbox.Mount(o.host, target=o.inside) for o in python.overlays),
                  sandbox.Mount(str(layout.HELPER_SOURCE), target=layout.HELPER),
                  sandbox.Mount(environments.uv_binary(), target=UV)]
        if network:
            mounts += [sandbox.Mount(path) for path in self.pip_source.local_paths()]
            bundle = ca_bundle()
            if bundle:
                mounts.append(sandbox.Mount(bundle, target=CA_BUNDLE))
        return mounts

    def env(self, python: layout.PythonView, **extra: str) -> dict[str, str]:
        return sandbox.scrubbed_env({
            "HOME": layout.HOME, "TMPDIR": layout.TMP, "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0",
            "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "UV_CACHE_DIR": f"{layout.TMP}/uv-cache", "UV_NO_CONFIG": "1",
            "UV_PYTHON_DOWNLOADS": "never", "UV_LINK_MODE": "copy", "NO_COLOR": "1", "SSL_CERT_FILE": CA_BUNDLE,
            **python.env, **extra}, [])

    def _run(self, python: layout.PythonView, argv: list[str], log: Path, *, uid: int, network: bool,
             mounts: tuple[sandbox.Mount, ...] = (), env: dict[str, str] | None = None,
             receive=None) -> sandbox.Outcome:
        helper = [python.executable, "-I", "-S", layout.HELPER]
        spec = sandbox.Spec(argv=tuple(helper + argv), env=self.env(python, **(env or {})), cwd=layout.TMP,
                            mounts=(*self.mounts(python, network=network), *mounts), network=network,
                            dirs=(layout.HOME,), uid=uid)
        return sandbox.run(self.backend, spec, self.limits, log, receive=receive)

    def _inputs_folder(self, files: dict[str, str]) -> tuple[tempfile.TemporaryDirectory, sandbox.Mount]:
        """Files the tracker writes for a step, in a folder only root can write, shown read-only."""
        folder = tempfile.TemporaryDirectory(prefix="wheelrepro-in-")
        os.chmod(folder.name, 0o755)
        for name, text in files.items():
            path = Path(folder.name) / name
            path.write_text(text)
            path.chmod(0o644)
        return folder, sandbox.Mount(folder.name, target=INPUT)

    def resolve(self, interpreter: Interpreter, requirements: list[str], log: Path, uid: int = sandbox.BUILD_UID,
                *, exclude_newer: str | None = None, exempt: tuple[str, ...] = (), index_only: bool = False,
                find_links: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Exact, hashed lock lines for ``requirements``: wheels only, one file each, no package code run.

        ``exclude_newer`` (RFC 3339) keeps only files uploaded before it (PEP 700 upload times), except
        the projects ``exempt`` names; files in local folders have no upload time and are not filtered,
        so ``index_only`` leaves the run's --find-links out.  Raises :class:`SdistOnlyRequirements` when
        some requirement has no usable wheel, naming them.
        """
        if not requirements:
            return ()
        python = self.python(interpreter)
        log_start = log.stat().st_size if log.exists() else 0
        links = [arg for link in find_links for arg in ("--find-links", link)]
        source = environments.PipSource(self.pip_source.index_url) if index_only else self.pip_source
        cutoff = ["--exclude-newer", exclude_newer] if exclude_newer else []
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        cutoff += [arg for name in exempt for arg in ("--exclude-newer-package", f"{name}={now}")]
        argv = ["--stdout-to-channel", "--", UV, "pip", "compile", "--quiet", "--no-build", "--no-config",
                "--no-python-downloads", "--no-header", "--python", python.executable, "--format", "pylock.toml",
                *source.args(), *links, *cutoff, f"{INPUT}/requirements.in"]
        folder, mount = self._inputs_folder({"requirements.in": "\n".join(requirements) + "\n"})
        with folder:
            outcome = self._run(python, argv, log, uid=uid, network=True,
                                mounts=(mount, *(sandbox.Mount(p) for p in find_links)), receive=_read_capped)
        what = f"resolving the build requirements {', '.join(requirements)}"
        if outcome.returncode != 0 or not isinstance(outcome.received, bytes):
            text = log.read_bytes()[log_start:].decode("utf-8", "replace")
            names = sorted({m.group(1).lower() for pattern in _SDIST_ONLY for m in pattern.finditer(text)})
            if names:
                raise SdistOnlyRequirements(tuple(names), str(log))
            if any(sign in text for sign in NETWORK_TROUBLE):
                raise EnvironmentFailed(what, "the index could not be reached (see the log); retried later", str(log))
            if "No solution found" in text:
                raise BuildRequirementsFailed(what, "they cannot be satisfied on this Python (see the log)", str(log))
            raise EnvironmentFailed(what, "uv could not resolve them (see the log)", str(log))
        return environments.lock_from_pylock(outcome.received.decode("utf-8", "replace"),
                                             environments.interpreter_tags(interpreter))

    def ensure(self, interpreter: Interpreter, toolchain: tuple[str, ...], requirements: tuple[str, ...],
               log: Path, uid: int = sandbox.BUILD_UID, find_links: tuple[str, ...] = ()) -> Environment:
        """The venv for this exact lock, made once (in the sandbox, at its constant path) and shared."""
        return self.ensure_and(interpreter, toolchain, requirements, log, uid, find_links)[0]

    def ensure_and(self, interpreter: Interpreter, toolchain: tuple[str, ...], requirements: tuple[str, ...],
                   log: Path, uid: int = sandbox.BUILD_UID, find_links: tuple[str, ...] = (),
                   alongside: Callable[[Environment], T] | None = None) -> tuple[Environment, T | None]:
        """:meth:`ensure`, and ``alongside(env)`` (e.g. the requirement hook, which reads the venv
        read-only) run while a new venv's bytecode is compiled: it is ready once installed."""
        env = environments.describe(interpreter, toolchain, requirements, self.workspace.envs, self.inputs(interpreter))
        path = Path(env.path)
        with environments.EnvLock(path):
            if environments.is_complete(env):
                return env, alongside(env) if alongside else None
            environments.remove(env)
            path.mkdir(parents=True, mode=0o755)
            sandbox.own_for_build(path, uid)  # uv, run as the build uid, fills it
            python = self.python(interpreter)
            venv = sandbox.Mount(str(path), writable=True, target=layout.VENV)
            links = [arg for link in find_links for arg in ("--find-links", link)]
            # with the network, none of it package code: uv makes the empty venv and installs the locked
            # wheels into it (nothing is installed before, so no .pth file of theirs runs)
            # uv's cache sits inside the new venv for this step (same filesystem: files are linked, not
            # copied) and is deleted at its end, before anything else sees the venv
            cache = f"{layout.VENV}/.uv-cache"
            argv = ["--", UV, "venv", "--quiet", "--no-config", "--no-python-downloads", "--allow-existing",
                    "--python", python.executable, layout.VENV,
                    "--then", UV, "pip", "install", "--quiet", "--no-config", "--python", f"{layout.VENV}/bin/python",
                    "--require-hashes", "--no-deps", "--no-build", "--cache-dir", cache, "--link-mode", "hardlink",
                    *self.pip_source.args(), *links, "-r", f"{INPUT}/lock.txt",
                    "--then", "rm", "-rf", cache]
            folder, mount = self._inputs_folder({"lock.txt": "\n".join(merge_locks(toolchain, requirements)) + "\n"})
            try:
                with folder:
                    made = self._run(python, argv, log, uid=uid, network=True,
                                     mounts=(venv, mount, *(sandbox.Mount(p) for p in find_links)))
                if made.returncode != 0:
                    raise EnvironmentFailed(f"making the venv for {interpreter.tag}", "uv failed (see the log)", str(log))
                # bytecode, offline, without site (no .pth file runs): builds cannot write a cache in the
                # read-only venv; pip's is left out, builds do not use it
                compile_argv = ["--", python.executable, "-I", "-S", "-m", "compileall", "-q",
                                "-x", "site-packages/pip/", f"{layout.VENV}/lib"]
                with ThreadPoolExecutor(max_workers=1) as pool:
                    compiling = pool.submit(self._run, python, compile_argv, log.with_name(log.stem + "-bytecode.log"),
                                            uid=uid, network=False, mounts=(venv,))
                    answer = alongside(env) if alongside else None
                    compiled = compiling.result()
                if compiled.returncode != 0:
                    raise EnvironmentFailed(f"compiling the venv for {interpreter.tag}", "compileall failed", str(log))
            except BaseException:
                sandbox.take_back(path)
                environments.remove(env)
                raise
            sandbox.take_back(path)
            environments.mark_complete(env)
        return env, answer

    def missing_requirements(self, interpreter: Interpreter, env: Environment, sdist: Path, build_dir: Path,
                             log: Path, uid: int = sandbox.BUILD_UID) -> list[str]:
        """Ask the backend (offline, sandboxed, on a fresh unpack) what else it needs to build a wheel."""
        python = self.python(interpreter)
        argv = ["--unpack", f"{layout.SDISTS}/{sdist.name}", "--into", str(build_dir), "--channel-to-child", "--",
                f"{layout.VENV}/bin/python", "-c", _HOOK, "."]
        mounts = (sandbox.Mount(env.path, target=layout.VENV), sandbox.Mount(str(sdist), target=f"{layout.SDISTS}/{sdist.name}"))
        outcome = self._run(python, argv, log, uid=uid, network=False, mounts=mounts, receive=_read_capped)
        try:
            missing = json.loads(outcome.received) if isinstance(outcome.received, bytes) else None
        except ValueError:
            missing = None
        if outcome.returncode != 0 or not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
            raise BuildRequirementsFailed("asking the build backend for its requirements",
                                          "get_requires_for_build_wheel failed (see the log)", str(log))
        return missing

    def fetch_crates(self, interpreter: Interpreter, sdist: Path, build_dir: Path, manifests: tuple[str, ...],
                     cargo_home: Path, log: Path, uid: int) -> None:
        """``cargo fetch --locked`` for every Cargo.lock, with the network, so builds can run offline.

        cargo runs no build script to fetch; it writes only ``cargo_home``, which the tracker takes
        back afterwards and builds see read-only.
        """
        python = self.python(interpreter)
        mounts = (sandbox.Mount(str(cargo_home), writable=True, target=CARGO_HOME),
                  sandbox.Mount(str(sdist), target=f"{layout.SDISTS}/{sdist.name}"))
        try:
            for manifest in manifests:
                log_start = log.stat().st_size if log.exists() else 0
                outcome = self._run(python, ["--unpack", f"{layout.SDISTS}/{sdist.name}", "--into", str(build_dir),
                                             "--", "cargo", "fetch", "--locked", "--manifest-path", manifest],
                                    log, uid=uid, network=True, mounts=mounts, env={"CARGO_HOME": CARGO_HOME})
                if outcome.returncode != 0:
                    text = log.read_bytes()[log_start:].decode("utf-8", "replace")
                    if "--locked" in text and "needs to be updated" in text:
                        raise BuildRequirementsFailed("fetching Rust crates", "Cargo.lock is out of date (see the log)",
                                                      str(log))
                    if "Could not resolve host" in text or "failed to download" in text:
                        raise EnvironmentFailed("fetching Rust crates", "the crate registry is unreachable from this "
                                                "machine; retried later (see the log)", str(log))
                    raise EnvironmentFailed("fetching Rust crates", "cargo fetch failed (see the log)", str(log))
        finally:
            sandbox.take_back(cargo_home)


def merge_locks(toolchain: tuple[str, ...], requirements: tuple[str, ...]) -> list[str]:
    """One line per project: the build lock's pin wins over the toolchain's (as installing it second would)."""
    by_name = {line.split("==", 1)[0].strip().lower(): line for line in toolchain}
    by_name.update({line.split("==", 1)[0].strip().lower(): line for line in requirements})
    return sorted(by_name.values())


def crate_access(cargo_home: Path) -> tuple[tuple[sandbox.Mount, ...], tuple[str, ...]]:
    """How a build sees the fetched crates: read-only, at CARGO_HOME on its private /tmp, with the
    folders cargo writes (its lock, what it unpacks lazily) fresh and writable for that build alone."""
    mounts, dirs = [], [CARGO_HOME, f"{CARGO_HOME}/registry", f"{CARGO_HOME}/git"]
    for folder in CARGO_FOLDERS:
        host = cargo_home / folder
        if host.is_dir() and not host.is_symlink():
            mounts.append(sandbox.Mount(str(host), target=f"{CARGO_HOME}/{folder}"))
        else:
            dirs.append(f"{CARGO_HOME}/{folder}")
    return tuple(mounts), tuple(dirs)


def cached_lock(workspace: Workspace, sdist_sha256: str, base: str) -> Path:
    return workspace.locks / sdist_sha256[:2] / f"{sdist_sha256}-{base[:16]}.txt"


def save_lock(path: Path, lines: tuple[str, ...]) -> None:
    atomic_write(path, ("\n".join(lines) + "\n").encode())


def load_lock(path: Path) -> tuple[str, ...] | None:
    if not path.is_file():
        return None
    return tuple(line for line in path.read_text().splitlines() if line.strip())


def copy_wheel(wheel: Path, store: Path, digest: str) -> Path:
    """A built requirement's wheel, kept by its digest (a folder the resolver is pointed at)."""
    folder = store / digest
    if not (folder / wheel.name).is_file():
        staging = store / f".{digest}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copyfile(wheel, staging / wheel.name, follow_symlinks=False)
        try:
            os.replace(staging, folder)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return folder
