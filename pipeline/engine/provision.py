"""Make the pinned environment for one sdist x interpreter: resolve its build lock, fill the venv.

Everything that may run a package's code (pip resolving or installing, the build-requirement
hook) runs in the sandbox; only venv creation, which runs no package code, runs outside.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import environments
from . import sandbox
from ..errors import BuildRequirementsFailed, EnvironmentFailed
from .interpreters import Interpreter
from .net import atomic_write
from ..records import Environment
from .workspace import SOURCE_DATE_EPOCH, Workspace

DEFAULT_REQUIRES = ("setuptools>=40.8.0",)  # PEP 517's fallback for a project without [build-system]

_HOOK = """
import json, sys
from build import ProjectBuilder
builder = ProjectBuilder(sys.argv[1], python_executable=sys.executable)
missing = sorted({chain[0] for chain in builder.check_dependencies("wheel")})
print("@@missing@@" + json.dumps(missing))
"""


@dataclass(frozen=True)
class Provisioner:
    """What provisioning needs from the run: where things go and how code is confined."""

    workspace: Workspace
    backend: sandbox.Backend
    limits: sandbox.Limits
    pip_source: environments.PipSource

    def _pip_cache(self, uid: int) -> Path:
        """One pip cache per build uid: only the check holding that uid writes to it."""
        cache = self.workspace.pip_cache / f"uid-{uid}"
        if not cache.is_dir():
            cache.mkdir(parents=True)
            sandbox.own_for_build(cache, uid)
        return cache

    def _pip_env(self, home: str, uid: int) -> dict[str, str]:
        return sandbox.scrubbed_env(
            {
                "HOME": home,
                "PIP_CACHE_DIR": str(self._pip_cache(uid)),
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PIP_CONFIG_FILE": os.devnull,  # the machine's pip.conf (extra indexes, constraints) stays out
                **ca_bundle(),
                "PIP_USER": "0",
                "PIP_NO_INPUT": "1",
                "LC_ALL": "C.UTF-8",
                "PYTHONHASHSEED": "0",
                "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
            },
            [],
        )

    def _run(self, argv: list[str], interpreter: Interpreter, log: Path, *, uid: int, ro: tuple[str, ...] = (),
             rw: tuple[str, ...] = (), network: bool = True, cwd: str = "/",
             extra: tuple[sandbox.Mount, ...] = (), env: dict[str, str] | None = None) -> sandbox.Outcome:
        mounts = [sandbox.Mount(interpreter.prefix)]
        ro = (*ro, *(p for p in self.pip_source.local_paths() if network))
        mounts += [sandbox.Mount(p) for p in ro] + [sandbox.Mount(p, writable=True) for p in rw]
        if network:
            mounts.append(sandbox.Mount(str(self._pip_cache(uid)), writable=True))
        home = "/tmp/home"
        spec = sandbox.Spec(argv=tuple(argv), env={**self._pip_env(home, uid), **(env or {})}, cwd=cwd,
                            mounts=(*mounts, *extra), network=network, dirs=(home,), uid=uid)
        return sandbox.run(self.backend, spec, self.limits, log)

    def ensure(self, interpreter: Interpreter, toolchain: tuple[str, ...], requirements: tuple[str, ...],
               log: Path, uid: int = sandbox.BUILD_UID) -> Environment:
        """The venv for this exact lock, made once and reused by every build that shares it."""
        env = environments.describe(interpreter, toolchain, requirements, self.workspace.envs)
        path = Path(env.path)
        with environments.EnvLock(path):
            if environments.is_complete(env):
                return env
            environments.remove(env)
            environments.create_venv(interpreter, path)
            sandbox.own_for_build(path, uid)  # pip, run as the build uid, fills it
            with tempfile.TemporaryDirectory(prefix="wheelrepro-lock-") as tmp:
                os.chmod(tmp, 0o755)
                for label, lines in (("toolchain", toolchain), ("build", requirements)):
                    if not lines:
                        continue
                    lock_file = Path(tmp) / f"{label}.txt"
                    lock_file.write_text("\n".join(lines) + "\n")
                    outcome = self._run(
                        [str(path / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--require-hashes",
                         "--no-compile", *self.pip_source.args(), "-r", str(lock_file)],
                        interpreter, log, uid=uid, ro=(tmp,), rw=(env.path,), network=True, cwd=tmp,
                    )
                    if outcome.returncode != 0:
                        environments.remove(env)
                        raise EnvironmentFailed(f"installing the {label} lock for {interpreter.tag}",
                                                "pip failed (see the log)", str(log))
            sandbox.own_for_build(path, uid=0)
            environments.mark_complete(env)
        return env

    def resolve(self, base: Environment, interpreter: Interpreter, requirements: list[str], log: Path,
                uid: int = sandbox.BUILD_UID) -> tuple[str, ...]:
        """Exact, hashed lock for ``requirements`` using the base env's pinned pip."""
        if not requirements:
            return ()
        log_start = log.stat().st_size if log.exists() else 0
        with tempfile.TemporaryDirectory(prefix="wheelrepro-resolve-") as tmp:
            os.chmod(tmp, 0o755)
            sandbox.own_for_build(Path(tmp), uid)
            report = Path(tmp) / "report.json"
            outcome = self._run(
                [str(Path(base.path) / "bin" / "python"), "-m", "pip", "install", "--dry-run", "--ignore-installed",
                 "--prefer-binary", "--quiet", "--report", str(report), *self.pip_source.args(), *requirements],
                interpreter, log, uid=uid, ro=(base.path,), rw=(tmp,), network=True, cwd=tmp,
            )
            if outcome.returncode != 0 or not report.is_file():
                text = log.read_bytes()[log_start:].decode("utf-8", "replace")
                if any(sign in text for sign in NETWORK_TROUBLE):  # pip then says "no matching distribution"
                    raise EnvironmentFailed(f"resolving the build requirements {', '.join(requirements)}",
                                            "the index could not be reached (see the log); retried later", str(log))
                if "ResolutionImpossible" in text or "No matching distribution found" in text:
                    raise BuildRequirementsFailed(f"build requirements {', '.join(requirements)}",
                                                  "cannot be satisfied on this Python (see the log)", str(log))
                raise EnvironmentFailed(f"resolving the build requirements {', '.join(requirements)}",
                                        "pip could not resolve them (see the log)", str(log))
            return environments.lock_from_report(json.loads(report.read_text()))

    def missing_requirements(self, env: Environment, interpreter: Interpreter, source: Path, log: Path,
                             uid: int = sandbox.BUILD_UID) -> list[str]:
        """Ask the backend (offline, sandboxed) what else it needs to build a wheel."""
        sandbox.own_for_build(source, uid)
        outcome = self._run([str(Path(env.path) / "bin" / "python"), "-c", _HOOK, str(source)],
                            interpreter, log, uid=uid, ro=(env.path,), rw=(str(source),), network=False,
                            cwd=str(source))
        text = log.read_text(errors="replace")
        marker = text.rfind("@@missing@@")
        if outcome.returncode != 0 or marker < 0:
            raise BuildRequirementsFailed("asking the build backend for its requirements",
                                    "get_requires_for_build_wheel failed (see the log)", str(log))
        return json.loads(text[marker + len("@@missing@@"):].splitlines()[0])


    def fetch_crates(self, interpreter: Interpreter, source: Path, cargo_home: Path, log: Path, uid: int) -> None:
        """``cargo fetch --locked`` for every Cargo.lock, with the network, so builds can run offline."""
        sandbox.own_for_build(cargo_home, uid)
        for manifest in cargo_manifests(source):
            outcome = self._run(["cargo", "fetch", "--locked", "--manifest-path", str(manifest)], interpreter, log,
                                uid=uid, ro=(str(source),), network=True, cwd=str(manifest.parent),
                                extra=(crate_mount(cargo_home),), env={"CARGO_HOME": CARGO_HOME})
            if outcome.returncode != 0:
                text = log.read_text(errors="replace")
                if "--locked" in text and "needs to be updated" in text:
                    raise BuildRequirementsFailed("fetching Rust crates", "Cargo.lock is out of date (see the log)", str(log))
                if "Could not resolve host" in text or "failed to download" in text:
                    raise EnvironmentFailed("fetching Rust crates", "the crate registry is unreachable from this "
                                            "machine; retried later (see the log)", str(log))
                raise EnvironmentFailed("fetching Rust crates", "cargo fetch failed (see the log)", str(log))


#: what pip's log says when the index, not the package, is the problem
NETWORK_TROUBLE = ("Retrying (Retry(", "SSLError", "CERTIFICATE_VERIFY_FAILED", "Failed to establish a new connection",
                   "Temporary failure in name resolution", "Could not fetch URL", "Read timed out")
#: the machine's trusted CAs (a TLS-inspecting proxy's CA is often only there): pip on Python 3.9 has no
#: truststore and would use its own bundle, and pip.conf's ``cert`` is not read in the sandbox
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def ca_bundle() -> dict[str, str]:
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(variable) and os.path.isfile(os.environ[variable]):
            return {"PIP_CERT": os.environ[variable]}
    for path in CA_BUNDLES:
        if os.path.isfile(path):
            return {"PIP_CERT": path}
    return {}


#: crates live at a fixed path in every sandbox: their source paths end up in the binaries
CARGO_HOME = "/tmp/wheelrepro-cargo"


def crate_mount(cargo_home: Path) -> sandbox.Mount:
    return sandbox.Mount(str(cargo_home), writable=True, target=CARGO_HOME)


def cargo_manifests(source: Path) -> list[Path]:
    """Cargo.toml next to each Cargo.lock the sdist ships (not in build output folders)."""
    found = []
    for lock in sorted(source.rglob("Cargo.lock")):
        relative = lock.relative_to(source)
        if len(relative.parts) <= 5 and "target" not in relative.parts and (lock.parent / "Cargo.toml").is_file():
            found.append(lock.parent / "Cargo.toml")
    return found


def static_requirements(source: Path) -> list[str]:
    """[build-system] requires, with PEP 517's fallback for a project without one."""
    pyproject = source / "pyproject.toml"
    if not pyproject.is_file():
        return list(DEFAULT_REQUIRES)
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EnvironmentFailed("reading pyproject.toml", str(exc)) from None
    system = data.get("build-system")
    if system is None:
        return list(DEFAULT_REQUIRES)
    requires = system.get("requires")
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise EnvironmentFailed("reading pyproject.toml", "[build-system] requires is not a list of strings")
    return requires


def cached_lock(workspace: Workspace, sdist_sha256: str, base: Environment) -> Path:
    return workspace.locks / sdist_sha256[:2] / f"{sdist_sha256}-{base.interpreter}-{base.base[:16]}.txt"


def save_lock(path: Path, lines: tuple[str, ...]) -> None:
    atomic_write(path, ("\n".join(lines) + "\n").encode())


def load_lock(path: Path) -> tuple[str, ...] | None:
    if not path.is_file():
        return None
    return tuple(line for line in path.read_text().splitlines() if line.strip())

