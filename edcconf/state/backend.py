"""What every state backend offers (the local files of state/local.py, PostgreSQL in state/postgres.py).

The commands, the apply and `state` subcommands hold a backend only through these protocols; what one
backend alone has (the local file's path, finishing a sealed commit) is reached after an isinstance check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .locking import LockInfo
from .record import StateRecord


class Journal(Protocol):
    """An apply's journal (state/journal.py): a header, then one entry per change that really happened."""

    def begin(self, header: dict[str, Any]) -> None: ...

    def append(self, entries: Iterable[dict[str, Any]], prepared: Any = None) -> None: ...

    def prepare(self, entries: Iterable[dict[str, Any]]) -> Any:
        """The lines of entries made now for a later append(first, prepared) (first: entries naming no role),
        or None when this journal does not make them ahead: then append the entries themselves."""
        ...

    def header(self) -> dict[str, Any] | None: ...

    def read(self) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None] | None:
        """(header, changes, seal or None); None when there is no journal. Only a file journal has seals."""
        ...

    def clear(self) -> None: ...


class StateBackend(Protocol):
    """Where one environment's applied versions, audit log, apply journal and lock live."""

    name: str  # "local" | "postgres": what `state: {backend: ...}` says
    environment: str

    def describe(self) -> str:
        """Where the state is, for messages."""
        ...

    @property
    def journal(self) -> Journal: ...

    # -- versions ------------------------------------------------------------------------------------
    def read(self, like: Mapping[str, Any] | None = None, missing_ok: bool = False) -> StateRecord:
        """The newest version (serial 0 when none); like: an effective state whose equal values are shared."""
        ...

    def version(self, serial: int) -> StateRecord: ...

    def history(self) -> list[dict[str, Any]]:
        """One entry per applied version, oldest first, without the effective state."""
        ...

    def newest_known(self) -> tuple[int, str | None]:
        """(serial, lineage) of the newest version there has been (what `state restore` numbers after)."""
        ...

    def default_restore_source(self) -> tuple[StateRecord, str]: ...

    def write(self, record: StateRecord, expected_serial: int) -> None:
        """commit() of a version alone, if the stored serial is still expected_serial (state-conflict if not)."""
        ...

    def commit(
        self,
        record: StateRecord | None,
        expected_serial: int | None,
        audit: Iterable[dict[str, Any]] = (),
        seal: Mapping[str, Any] | None = None,
        restoring: bool = False,
        base_lineage: str | None = None,
    ) -> None:
        """A new version (None: none) and its audit entries as one step, compare-and-swap on the serial."""
        ...

    # -- audit and journal ---------------------------------------------------------------------------
    def append_audit(self, entries: Iterable[dict[str, Any]]) -> None: ...

    def prepare_audit(self, changes: Iterable[dict[str, Any]]) -> Any:
        """The audit lines' text of these changes made now, for a later audit_lines.AuditStream of them, or
        None when this backend does not make them ahead."""
        ...

    def read_audit(self, event: str | None = None) -> list[dict[str, Any]]:
        """Every audit entry in order, or only those whose `event` is event."""
        ...

    def discard_journal(self, note: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        """A journal that cannot be folded: recorded in the audit log as it is deleted."""
        ...

    # -- the lock and its fence ----------------------------------------------------------------------
    def lock(self, operation: str, timeout: float = 0.0) -> AbstractContextManager[LockInfo]:
        """The environment's exclusive lock, waiting up to timeout seconds (state-locked after that)."""
        ...

    def fenced(self) -> AbstractContextManager[object]:
        """A write section that fails (lock-lost) once the lock was forced open; nests."""
        ...

    def check_fence(self) -> None: ...

    def force_unlock(self, lock_id: str) -> LockInfo | None: ...
