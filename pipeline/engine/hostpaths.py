"""``--unsandboxed``: run a :class:`~.sandbox.Spec` on the host, its in-sandbox paths translated to host ones.

Without bubblewrap there is no new root: each mount's inside path becomes its host path, and each
private tmpfs (``/tmp`` with the build tree, ``/var/tmp``, CARGO_HOME) a folder of a scratch
directory removed afterwards.  Builds then see host paths, which the environment's fingerprint
says (layout ``host``).  As root, a new network namespace still keeps offline steps offline.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .sandbox import Launch, Limits, Spec, host_tools

PRIVATE = ("/tmp", "/var/tmp", "/dev/shm")


def _table(spec: Spec, scratch: str) -> list[tuple[str, str]]:
    """(inside, host) pairs, longest inside path first, so the most specific one wins."""
    pairs = {inside: os.path.join(scratch, inside.strip("/").replace("/", "_")) for inside in PRIVATE}
    for extra in spec.tmpfs:
        pairs[extra.path] = os.path.join(scratch, extra.path.strip("/").replace("/", "_"))
    mounts = (*host_tools().mounts, *spec.mounts)
    covered = [m.inside for m in mounts]
    for mount in mounts:
        inner = any(mount.inside != other and mount.inside.startswith(other + "/") for other in covered)
        if not inner:  # a file shown over part of another mount (a rewritten sysconfig) has no host equivalent
            pairs[mount.inside] = mount.path
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


def translate(value: str, table: list[tuple[str, str]]) -> str:
    for inside, host in table:
        if value == inside or value.startswith(inside + "/"):
            return host + value[len(inside):]
    return value


def _translate_env(env: dict[str, str], table: list[tuple[str, str]]) -> dict[str, str]:
    return {key: ":".join(translate(part, table) for part in value.split(":")) for key, value in env.items()}


def launch(spec: Spec, limits: Limits) -> Launch:
    scratch = tempfile.mkdtemp(prefix="wheelrepro-host-")
    os.chmod(scratch, 0o755)
    table = _table(spec, scratch)
    for inside, host in table:
        if host.startswith(scratch):
            os.makedirs(host, mode=0o1777, exist_ok=True)
            os.chmod(host, 0o1777)
    for path in spec.dirs:
        os.makedirs(translate(path, table), exist_ok=True)
    argv = [translate(word, table) for word in spec.argv]
    if not spec.network and os.geteuid() == 0 and shutil.which("unshare"):
        argv = ["unshare", "--net", "--", *argv]
    cwd = translate(spec.cwd, table)
    Path(cwd).mkdir(parents=True, exist_ok=True)
    return Launch(argv=argv, env=_translate_env(dict(spec.env), table), cwd=cwd,
                  cleanup=lambda: shutil.rmtree(scratch, ignore_errors=True))
