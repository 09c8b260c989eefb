"""The tracker's helper inside the sandbox: unpack, run one command, send its answer back through a pipe.

Run as the build uid by the sandbox's own interpreter (``python -I -S``), from a read-only copy at
a constant path; standard library only, Python 3.9 and later.  The tracker (root) never opens a
file a build could have touched: what it needs back (the wheel, a requirement list, a lock) comes
through a pipe (its fd number in $WHEELREPRO_CHANNEL, removed before anything else runs) root reads with a cap and treats as hostile input.

    inside.py [--unpack SDIST --into DIR] [--dist DIR] [--umask 022]
              [--stdout-to-channel | --channel-to-child | --send-wheel] -- ARGV... [--then ARGV...]...

Commands separated by ``--then`` run one after the other, up to the first that fails.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import zipfile

CHANNEL = int(os.environ.pop("WHEELREPRO_CHANNEL", "-1"))
UNPACK_FAILED = 125  # the exit status when the sdist cannot be unpacked in the sandbox (e.g. over the size cap)


def _private() -> None:
    """Not dumpable: the build (same uid) cannot open this process's /proc/PID/fd/N and write into the channel."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def unpack(sdist: str, into: str) -> None:
    """The sdist's single top folder, unpacked at exactly ``into`` (the tracker checked every member first)."""
    old = os.umask(0o022)
    try:
        parent = os.path.dirname(into)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        staging = into + ".unpack"
        os.mkdir(staging, 0o755)
        if sdist.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                archive.extractall(staging)
        else:
            with tarfile.open(sdist) as archive:
                archive.extractall(staging, filter="data")
        tops = [name for name in os.listdir(staging) if name != "."]
        if len(tops) != 1:
            raise ValueError(f"expected one top folder, found {len(tops)}")
        os.rename(os.path.join(staging, tops[0]), into)
        os.rmdir(staging)
        os.chmod(into, 0o755)
    finally:
        os.umask(old)


def _one_wheel(dist: str) -> tuple[int | None, dict]:
    """An fd on the one wheel the build wrote, never through a link, or why there is none."""
    try:
        names = sorted(os.listdir(dist))
    except OSError as exc:
        return None, {"error": f"the output folder is unreadable: {exc.strerror}"}
    wheels = [name for name in names if name.endswith(".whl")]
    if len(wheels) != 1:
        return None, {"error": f"expected one wheel in the output, found {len(wheels)}"}
    try:
        fd = os.open(os.path.join(dist, wheels[0]), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None, {"error": f"{wheels[0]} is not a regular file"}
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None, {"error": f"{wheels[0]} is not a regular file"}
    return fd, {"wheel": wheels[0], "size": info.st_size}


def send_wheel(dist: str) -> None:
    """A JSON header line, then the wheel's bytes; the tracker checks both."""
    fd, header = _one_wheel(dist)
    with os.fdopen(CHANNEL, "wb", closefd=False) as channel:
        channel.write(json.dumps(header).encode() + b"\n")
        if fd is not None:
            with os.fdopen(fd, "rb") as wheel:
                shutil.copyfileobj(wheel, channel, 1 << 20)


def _steps(command: list[str]) -> list[list[str]]:
    steps = [[]]
    for word in command:
        if word == "--then":
            steps.append([])
        else:
            steps[-1].append(word)
    return [step for step in steps if step]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="inside.py")
    parser.add_argument("--unpack")
    parser.add_argument("--into")
    parser.add_argument("--dist")
    parser.add_argument("--umask", default="022")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--stdout-to-channel", action="store_true")
    mode.add_argument("--channel-to-child", action="store_true")
    mode.add_argument("--send-wheel", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    _private()
    if args.unpack:
        try:
            unpack(args.unpack, args.into)
        except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
            print(f"wheelrepro: cannot unpack {os.path.basename(args.unpack)} in the sandbox: {exc}", file=sys.stderr)
            return UNPACK_FAILED
    if args.dist:
        os.makedirs(args.dist, mode=0o755, exist_ok=True)
    keep = (CHANNEL,) if args.channel_to_child else ()
    stdout = CHANNEL if args.stdout_to_channel else None
    env = dict(os.environ, WHEELREPRO_CHANNEL=str(CHANNEL)) if args.channel_to_child else None
    os.umask(int(args.umask, 8))
    sys.stdout.flush()
    code = 0
    for step in _steps(command):
        try:
            code = subprocess.run(step, cwd=args.into or None, stdout=stdout, pass_fds=keep, env=env).returncode
        except OSError as exc:
            print(f"wheelrepro: cannot run {step[:1]}: {exc}", file=sys.stderr)
            code = 127
        if code != 0:
            break
    if args.send_wheel and code == 0:
        send_wheel(args.dist)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
