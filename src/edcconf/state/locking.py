"""Lock holder information shared by the state backends: who holds an environment's lock, and why."""
from __future__ import annotations

import getpass
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from ..diagnostics import UserError


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

    @classmethod
    def mine(cls, operation: str) -> "LockInfo":
        return cls(str(uuid.uuid4()), actor(), socket.gethostname(), os.getpid(), operation,
                   datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def to_json(self) -> dict:
        return {"id": self.id, "who": self.who, "host": self.host, "pid": self.pid, "operation": self.operation,
                "since": self.since}

    @classmethod
    def from_json(cls, data: object) -> "LockInfo | None":
        if not isinstance(data, dict):
            return None
        try:
            return cls(str(data["id"]), str(data["who"]), str(data["host"]), int(data["pid"]),
                       str(data["operation"]), str(data["since"]))
        except (KeyError, TypeError, ValueError):
            return None


def busy_error(environment: str, holder: LockInfo | None, waited: float) -> UserError:
    waited_text = f" after waiting {waited:g}s" if waited else ""
    if holder is None:
        return UserError(f"the state of {environment} is locked by another edcconf process{waited_text}; "
                         "try again, or wait with --lock-timeout 30s", code="state-locked")
    return UserError(
        f"the state of {environment} is locked{waited_text}: {holder.operation} by {holder.who} on {holder.host} "
        f"(pid {holder.pid}) since {holder.since}, lock id {holder.id}. Wait with --lock-timeout 30s; if that "
        f"process is gone, run: edcconf force-unlock {environment} {holder.id}", code="state-locked")


def named_holder(read_holder, patience: float = 2.0) -> LockInfo | None:
    """The lock's holder, waiting a moment for it to write its name: a lock is taken first and its
    holder recorded just after, so a refused process may look in between."""
    import time

    deadline = time.monotonic() + patience
    while True:
        holder = read_holder()
        if holder is not None or time.monotonic() >= deadline:
            return holder
        time.sleep(0.05)
