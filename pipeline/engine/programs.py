"""The tracker's own helper programs on the host (probes, the C compiler, uv's lock writer, git...).

Each runs in a session of its own, as builds do: a terminal's Ctrl-C then reaches the tracker
alone, which stops its children and keeps no result made after it (``cli/interrupt.py``).  A
helper that an interrupt signal reaches all the same ends its check with :class:`Interrupted`, never
with a record: the check was stopped, it did not fail.
"""

from __future__ import annotations

import signal
import subprocess
from typing import Any, Sequence

#: how a helper ends when the run is being stopped (Ctrl-C, or SIGTERM from nox, CI or ``kill``)
STOPPED = (-signal.SIGINT, -signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A helper program ended by an interrupt signal: the run is stopping, and no record comes of it."""


def run(argv: Sequence[str], **options: Any) -> subprocess.CompletedProcess:
    """:func:`subprocess.run` in a new session; :class:`Interrupted` when an interrupt signal ended it."""
    try:
        done = subprocess.run(argv, start_new_session=True, **options)
    except subprocess.CalledProcessError as error:
        if error.returncode in STOPPED:
            raise Interrupted(f"{argv[0]} ended by signal {-error.returncode}") from None
        raise
    if done.returncode in STOPPED:
        raise Interrupted(f"{argv[0]} ended by signal {-done.returncode}")
    return done
