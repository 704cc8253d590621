"""The PostgreSQL state backend's lock and fence (a mixin of state.postgres.PostgresBackend, which holds the
connection, the tables' names and the lock's session).

The environment's lock is a session advisory lock, freed by the server if the holder dies; a row beside it
names the holder. While it holds the lock, the backend writes only in transactions that first check
(SELECT ... FOR SHARE) that the fence row still holds the generation the lock was taken with, so a holder
whose lock was forced open writes nothing more.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ..diagnostics import UserError
from ..rules import state as state_rules
from .locking import LockInfo, busy_error, lock_lost, named_holder
from .postgres_journal import _one

FORCE_WAIT = "10s"  # how long force-unlock waits for the holder to finish the write it is in
DEAD_HOLDER_GRACE = 5.0  # seconds to wait for the server to end the session of a holder whose process is gone


class PostgresLocks:
    environment: str
    schema: str
    _conn: psycopg.Connection | None  # the session holding the lock, while it is held
    _held: LockInfo | None
    _fenced: int  # depth of fenced() sections entered (they nest), by the thread in _section
    _section: threading.RLock

    if TYPE_CHECKING:  # the backend's own

        def _connect(self) -> AbstractContextManager[psycopg.Connection]: ...

        def _t(self, table: str) -> sql.Composed: ...

        def _error(self, exc: psycopg.Error) -> UserError: ...

    def _lock_key(self) -> int:
        digest = hashlib.sha256(f"edcconf:{self.schema}:{self.environment}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        if self._held is not None:
            raise RuntimeError(f"the lock on {self.environment} is already held by this backend")
        with self._connect() as conn:  # the lock lives as long as this session
            deadline = time.monotonic() + timeout
            grace = False
            while not _one(conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key(),))):
                if time.monotonic() >= deadline:
                    if not grace and _gone(self._holder(conn)):
                        # its process ended (killed) moments ago: the server releases the lock when it sees
                        # the session closed, which it may not have yet. Wait for that, never take it over
                        grace, deadline = True, time.monotonic() + DEAD_HOLDER_GRACE
                        continue
                    raise busy_error(self.environment, named_holder(lambda: self._holder(conn)), timeout)
                time.sleep(0.1)
            with conn.transaction():
                generation = _one(
                    conn.execute(
                        sql.SQL(
                            "INSERT INTO {} (environment, generation) VALUES (%s, 1) ON CONFLICT (environment) DO UPDATE "
                            "SET generation = {}.generation + 1 RETURNING generation"
                        ).format(self._t("fences"), sql.Identifier("fences")),
                        (self.environment,),
                    )
                )
                info = LockInfo.mine(operation, generation)
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (environment, lock_id, holder, backend_pid, generation) VALUES "
                        "(%s, %s, %s, pg_backend_pid(), %s) ON CONFLICT (environment) DO UPDATE SET "
                        "lock_id = EXCLUDED.lock_id, holder = EXCLUDED.holder, "
                        "backend_pid = EXCLUDED.backend_pid, generation = EXCLUDED.generation"
                    ).format(self._t("locks")),
                    (self.environment, info.id, Jsonb(info.to_json()), generation),
                )
            self._conn, self._held = conn, info
            try:
                yield info
            finally:
                self._conn = self._held = None
                if not (conn.broken or conn.closed):  # else force-unlock ended the session, and the lock with it
                    with contextlib.suppress(psycopg.Error):
                        conn.execute(
                            sql.SQL("DELETE FROM {} WHERE environment = %s AND lock_id = %s").format(self._t("locks")),
                            (self.environment, info.id),
                        )
                        conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key(),))

    @contextlib.contextmanager
    def fenced(self) -> Iterator[psycopg.Connection]:
        """A write transaction on the lock's session that holds the fence row (FOR SHARE) at this holder's
        generation: force-unlock waits for it to end, and a forced-open holder cannot start one. Sections
        nest within a thread (the inner ones are savepoints); another thread's section waits until this one
        ends (one session, one transaction at a time); without the lock, one is taken for it."""
        with self._section:
            if self._fenced:
                assert self._conn is not None  # a fenced section runs on the lock's session
                yield self._conn
                return
            if self._held is None:
                with self.lock("write"), self.fenced() as conn:
                    yield conn
                return
            assert self._conn is not None  # lock() sets it with _held
            conn, held = self._conn, self._held
            try:
                with conn.transaction():
                    row = conn.execute(
                        sql.SQL("SELECT generation FROM {} WHERE environment = %s FOR SHARE").format(self._t("fences")),
                        (self.environment,),
                    ).fetchone()
                    if row is None or row[0] != held.generation:
                        raise lock_lost(self.environment, held)
                    self._fenced += 1
                    try:
                        yield conn
                    finally:
                        self._fenced -= 1
            except psycopg.Error as exc:
                raise self._error(exc) from None

    def check_fence(self) -> None:
        """Refuse (lock-lost) if this holder's lock was forced open: done before each change is carried out."""
        with self.fenced():
            pass

    def _holder(self, conn: psycopg.Connection) -> LockInfo | None:
        row = conn.execute(
            sql.SQL("SELECT holder FROM {} WHERE environment = %s").format(self._t("locks")), (self.environment,)
        ).fetchone()
        return LockInfo.from_json(row[0]) if row else None

    def force_unlock(self, lock_id: str) -> LockInfo | None:
        """Raise the lock's generation (so no write of the holder can commit), forget the holder, then end
        its database session (which releases its advisory lock). Returns the holder it took the lock from."""
        with self._connect() as conn:
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(FORCE_WAIT)))
                    row = conn.execute(
                        sql.SQL(
                            "SELECT backend_pid, holder FROM {} WHERE environment = %s AND lock_id = %s FOR UPDATE"
                        ).format(self._t("locks")),
                        (self.environment, lock_id),
                    ).fetchone()
                    if row is None:
                        return None
                    conn.execute(
                        sql.SQL("UPDATE {} SET generation = generation + 1 WHERE environment = %s").format(
                            self._t("fences")
                        ),
                        (self.environment,),
                    )
                    conn.execute(
                        sql.SQL("DELETE FROM {} WHERE environment = %s AND lock_id = %s").format(self._t("locks")),
                        (self.environment, lock_id),
                    )
            except psycopg.errors.LockNotAvailable:
                raise UserError(
                    f"lock {lock_id} on {self.environment} is in the middle of a write that did not "
                    f"finish within {FORCE_WAIT}; if its process is stuck, stop it, then try again",
                    code=state_rules.STATE_LOCKED.code,
                ) from None
            conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
        return LockInfo.from_json(row[1])


def _gone(holder: LockInfo | None) -> bool:
    """The holder is a process of this machine that no longer exists (a holder elsewhere cannot be seen)."""
    return holder is not None and holder.running_here() is False
