"""The operating system's file lock under the local state backend: exclusive, never waited for here (the
caller polls), released by the kernel when the holder's process dies. POSIX flock, imported only when a lock
is taken, so that the package imports everywhere.

Windows is refused, not approximated: the backend's fencing replaces the lock file while its holder keeps it
open (force-unlock) and reads and writes it at offsets (os.pread/os.pwrite), none of which Windows allows,
and msvcrt's byte-range locks would also block other processes from reading who holds the lock. There the
state belongs in PostgreSQL (`state: {backend: postgres}`), or edcconf runs under WSL."""

from __future__ import annotations

import errno
import sys

from ..diagnostics import UserError
from ..rules import state as state_rules


def supported() -> bool:
    return not sys.platform.startswith("win")


def refuse_unsupported(environment: str) -> None:
    if not supported():
        raise UserError(
            f"the local state backend of {environment} cannot lock its state on Windows: it needs POSIX "
            "file locks (flock) for its fencing. On Windows keep the state in PostgreSQL (`state: "
            "{backend: postgres, dsn_env: ...}` in the environment's file), or run edcconf under WSL",
            code=state_rules.STATE_LOCAL_UNSUPPORTED.code,
        )


def try_lock(fd: int, environment: str) -> bool:
    """Take the exclusive lock on the open file fd: True if taken, False if another open file holds it."""
    refuse_unsupported(environment)
    import fcntl  # local: POSIX only, and the package must import on Windows (see the module)

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True


def unlock(fd: int) -> None:
    """Release the lock before fd is closed (closing the last descriptor of the file releases it too)."""
    import fcntl  # local: POSIX only (see the module)

    fcntl.flock(fd, fcntl.LOCK_UN)
