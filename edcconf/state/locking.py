"""Lock holder information shared by the state backends: who holds an environment's lock, and why.

Every lock carries a *generation*, a number that grows by one each time the lock is taken or forced
open. It is the lock's fencing token: a backend writes only while the stored generation is still the
one it took (checked in the same step as the write), so a holder whose lock was forced open cannot
write over the work of whoever took the lock next."""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from ..diagnostics import UserError
from ..rules import state as state_rules


def actor() -> str:
    """Who is acting: EDCCONF_ACTOR (set by CI to the merging reviewer), else the OS user."""
    explicit = os.environ.get("EDCCONF_ACTOR")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid-{os.getuid()}"


@dataclass(frozen=True)
class LockInfo:
    id: str
    who: str
    host: str
    pid: int
    operation: str
    since: str
    generation: int = 0  # the fencing token: see the module's docstring

    @classmethod
    def mine(cls, operation: str, generation: int = 0) -> LockInfo:
        return cls(
            str(uuid.uuid4()),
            actor(),
            socket.gethostname(),
            os.getpid(),
            operation,
            datetime.now(UTC).isoformat(timespec="seconds"),
            generation,
        )

    def running_here(self) -> bool | None:
        """Whether the holder's process still exists, when it is on this machine; None on another one
        (whose processes cannot be seen from here)."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # someone else's process: it exists
            return True
        return True

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "who": self.who,
            "host": self.host,
            "pid": self.pid,
            "operation": self.operation,
            "since": self.since,
            "generation": self.generation,
        }

    @classmethod
    def from_json(cls, data: object) -> LockInfo | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                str(data["id"]),
                str(data["who"]),
                str(data["host"]),
                int(data["pid"]),
                str(data["operation"]),
                str(data["since"]),
                int(data.get("generation") or 0),
            )
        except (KeyError, TypeError, ValueError):
            return None


def busy_error(environment: str, holder: LockInfo | None, waited: float) -> UserError:
    waited_text = f" after waiting {waited:g}s" if waited else ""
    if holder is None:
        return UserError(
            f"the state of {environment} is locked by another edcconf process{waited_text}; "
            "try again, or wait with --lock-timeout 30s",
            code=state_rules.STATE_LOCKED.code,
        )
    return UserError(
        f"the state of {environment} is locked{waited_text}: {holder.operation} by {holder.who} on {holder.host} "
        f"(pid {holder.pid}) since {holder.since}, lock id {holder.id}. Wait with --lock-timeout 30s; if that "
        f"process is gone, run: edcconf force-unlock {environment} {holder.id}",
        code=state_rules.STATE_LOCKED.code,
    )


def lock_lost(environment: str, held: LockInfo) -> UserError:
    """The error of a holder whose lock was forced open (or taken over) while it worked."""
    return UserError(
        f"the lock on the state of {environment} that this {held.operation} held (lock id {held.id}, generation "
        f"{held.generation}) was released with force-unlock while it ran, and another process may hold it now; "
        f"this process wrote nothing to the state, the audit log or the journal after that. Run "
        f"`edcconf plan --env {environment}` to see the state as it is and what is left",
        code=state_rules.LOCK_LOST.code,
    )


def named_holder(read_holder, patience: float = 2.0) -> LockInfo | None:
    """The lock's holder, waiting a moment for it to write its name: a lock is taken first and its
    holder recorded just after, so a refused process may look in between."""

    deadline = time.monotonic() + patience
    while True:
        holder = read_holder()
        if holder is not None or time.monotonic() >= deadline:
            return holder
        time.sleep(0.05)
