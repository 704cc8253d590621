"""PostgreSQL state backend, for teams sharing one state (`state: {backend: postgres, dsn_env: VAR}`).

Tables are created on first use by versioned migrations. Every applied version is its own row (history
is never overwritten); `(environment, serial)` is the primary key, so two applies racing for the same
serial cannot both commit (compare-and-swap). The environment's lock is a session advisory lock, freed by
the server if the holder dies; a row beside it names the holder. The DSN comes only from the environment
variable named in the configuration and never appears in messages.

Fencing: while it holds the lock, a backend does every read and write on the session that holds it, and
every write in a transaction that first checks (SELECT ... FOR SHARE) that `<schema>.fences` still
holds the generation the lock was taken with. force-unlock raises the generation (waiting for a write
in progress to end) and then ends the holder's session, so a holder whose lock was forced open writes
nothing more: its session is gone, and a new one would not have the generation. A version, its audit
entries and the clearing of its journal are one transaction (commit()).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import psycopg
import psycopg.conninfo
from psycopg import sql
from psycopg.types.json import Jsonb

from ..diagnostics import UserError
from ..rules import commands as commands_rules
from ..rules import state as state_rules
from .locking import LockInfo, lock_lost
from .postgres_dsn import UNREADABLE, dsn_problem, dsn_secrets, scrub
from .postgres_journal import PostgresJournal, _one
from .postgres_locks import PostgresLocks
from .record import StateRecord

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
    CREATE TABLE IF NOT EXISTS {schema}.states (
        environment text NOT NULL, serial integer NOT NULL, lineage text NOT NULL,
        applied_at timestamptz NOT NULL, commit text, actor text, summary jsonb, note text,
        record jsonb NOT NULL, PRIMARY KEY (environment, serial));
    CREATE TABLE IF NOT EXISTS {schema}.audit (
        id bigserial PRIMARY KEY, environment text NOT NULL, logged_at timestamptz NOT NULL DEFAULT now(),
        entry jsonb NOT NULL);
    CREATE INDEX IF NOT EXISTS audit_environment ON {schema}.audit (environment, id);
    CREATE TABLE IF NOT EXISTS {schema}.locks (
        environment text PRIMARY KEY, lock_id text NOT NULL, holder jsonb NOT NULL, backend_pid integer NOT NULL);
    CREATE TABLE IF NOT EXISTS {schema}.journal (
        environment text NOT NULL, seq integer NOT NULL, entry jsonb NOT NULL, PRIMARY KEY (environment, seq));
    """,
    ),
    (
        2,
        """
    CREATE TABLE IF NOT EXISTS {schema}.fences (environment text PRIMARY KEY, generation bigint NOT NULL);
    ALTER TABLE {schema}.locks ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT 0;
    """,
    ),
]
_VERSION_EVENTS = ("apply", "apply-failed", "recovered", "state-import", "state-restore")
_MIGRATION_LOCK = 0x6564_6363_6F6E_66  # "edcconf": serialises first-use migrations across processes


class PostgresBackend(PostgresLocks):
    name = "postgres"

    def __init__(self, environment: str, dsn_env: str, schema: str = "edcconf") -> None:
        self.environment = environment
        self.dsn_env = dsn_env
        self.schema = schema
        dsn = os.environ.get(dsn_env)
        if not dsn:
            raise UserError(
                f"the state of {environment} is kept in PostgreSQL, and the environment variable "
                f"{dsn_env} that holds its connection string is not set",
                code=state_rules.STATE_BACKEND.code,
            )
        problem = dsn_problem(dsn)
        if problem is None:
            try:
                psycopg.conninfo.conninfo_to_dict(dsn)
            except psycopg.Error:  # its message may quote any part of the string: never shown
                problem = "cannot be read as a PostgreSQL connection string"
        if problem is not None:
            raise UserError(
                f"the connection string in ${dsn_env} (the state of {environment}) {problem}; {UNREADABLE}",
                code=state_rules.STATE_BACKEND.code,
            )
        self._dsn = dsn
        self._secrets = dsn_secrets(dsn)
        self._migrated = False
        self._conn: psycopg.Connection | None = None  # the session holding the lock, while it is held
        self._held: LockInfo | None = None
        self._fenced = 0  # depth of fenced() sections entered (they nest), by the thread in _section
        self._section = threading.RLock()  # one thread's write sections at a time; they nest within it

    def describe(self) -> str:
        return f"PostgreSQL (schema {self.schema}, DSN from ${self.dsn_env})"

    # -- connections ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self) -> Iterator[psycopg.Connection]:
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise UserError(
                f"cannot reach the PostgreSQL state of {self.environment} (${self.dsn_env}): "
                f"{scrub(str(exc).strip(), self._secrets)}",
                code=state_rules.STATE_READ.code,
            ) from None
        try:
            if not self._migrated:
                self._migrate(conn)
            yield conn
        except psycopg.Error as exc:
            raise UserError(
                f"PostgreSQL state of {self.environment}: {scrub(str(exc).strip(), self._secrets)}; "
                "nothing was committed by the failed statement",
                code=state_rules.STATE_WRITE.code,
            ) from None
        finally:
            conn.close()

    @contextlib.contextmanager
    def _session(self) -> Iterator[psycopg.Connection]:
        """The lock's session while the lock is held (reads see what this holder wrote), else a new one."""
        if self._conn is None:
            with self._connect() as conn:
                yield conn
            return
        try:
            yield self._conn
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: psycopg.Error) -> UserError:
        if self._held is not None and self._conn is not None and (self._conn.broken or self._conn.closed):
            return lock_lost(self.environment, self._held)  # force-unlock ended the lock's session
        return UserError(
            f"PostgreSQL state of {self.environment}: {scrub(str(exc).strip(), self._secrets)}; "
            "nothing was committed by the failed statement",
            code=state_rules.STATE_WRITE.code,
        )

    def _t(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    def _migrate(self, conn: psycopg.Connection) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, "
                    "applied_at timestamptz NOT NULL DEFAULT now())"
                ).format(self._t("schema_migrations"))
            )
            done = {r[0] for r in conn.execute(sql.SQL("SELECT version FROM {}").format(self._t("schema_migrations")))}
            for version, ddl in MIGRATIONS:
                if version not in done:
                    conn.execute(sql.SQL(ddl).format(schema=sql.Identifier(self.schema)))
                    conn.execute(
                        sql.SQL("INSERT INTO {} (version) VALUES (%s)").format(self._t("schema_migrations")), (version,)
                    )
        self._migrated = True

    # -- state ---------------------------------------------------------------------------------------
    def read(self, like: Mapping[str, Any] | None = None, missing_ok: bool = False) -> StateRecord:
        # like: the local backend shares equal values with it; rows are decoded by psycopg, so not here
        with self._session() as conn:
            row = conn.execute(
                sql.SQL("SELECT record FROM {} WHERE environment = %s ORDER BY serial DESC LIMIT 1").format(
                    self._t("states")
                ),
                (self.environment,),
            ).fetchone()
            if row is None and not missing_ok:
                self._refuse_lost_lineage(conn)
        return (
            StateRecord.from_json(row[0], f"PostgreSQL state of {self.environment}")
            if row
            else StateRecord(self.environment)
        )

    def _refuse_lost_lineage(self, conn: psycopg.Connection) -> None:
        """No version of this environment, though the audit log records applied ones: rows were deleted
        from <schema>.states. A new lineage would start over them."""
        newest = _one(
            conn.execute(
                sql.SQL(
                    "SELECT max(CASE WHEN jsonb_typeof(entry->'serial') = 'number' THEN (entry->>'serial')::int END) "
                    "FROM {} WHERE environment = %s AND entry->>'event' = ANY(%s)"
                ).format(self._t("audit")),
                (self.environment, list(_VERSION_EVENTS)),
            )
        )
        if newest:
            raise UserError(
                f"the PostgreSQL state of {self.environment} has no version, but its audit log ({self.schema}.audit) "
                f"records versions up to serial {newest}: rows were deleted from {self.schema}.states. edcconf will "
                f"not start a new lineage over them. Restore a copy with `edcconf state restore --env "
                f"{self.environment} --from PATH`",
                code=state_rules.STATE_MISSING.code,
            )

    def newest_known(self) -> tuple[int, str | None]:
        current = self.read(missing_ok=True)
        return current.serial, current.lineage

    def default_restore_source(self) -> tuple[StateRecord, str]:
        raise UserError(
            f"the PostgreSQL state of {self.environment} keeps every version as a row: say which to "
            "restore, with --serial N (see `edcconf history`) or --from PATH (a state file)",
            code=commands_rules.USAGE.code,
        )

    def write(self, record: StateRecord, expected_serial: int) -> None:
        self.commit(record, expected_serial)

    def commit(
        self,
        record: StateRecord | None,
        expected_serial: int | None,
        audit: Iterable[dict] = (),
        seal: Mapping | None = None,
        restoring: bool = False,
        base_lineage: str | None = None,
    ) -> None:
        """A new version (record None: none), its audit entries and (seal given: the commit of the apply
        whose journal is open) the clearing of that journal, in one transaction of the lock's session."""
        entries = [(self.environment, Jsonb(json.loads(json.dumps(e, default=str)))) for e in audit]
        with self.fenced() as conn:
            try:
                with conn.transaction():
                    current = _one(
                        conn.execute(
                            sql.SQL("SELECT coalesce(max(serial), 0) FROM {} WHERE environment = %s").format(
                                self._t("states")
                            ),
                            (self.environment,),
                        )
                    )
                    if current != expected_serial and (expected_serial is not None or not restoring):
                        raise UserError(
                            f"state of {self.environment} moved from serial {expected_serial} to "
                            f"{current} while this apply ran; plan again",
                            code=state_rules.STATE_CONFLICT.code,
                        )
                    if current == 0 and not restoring:
                        self._refuse_lost_lineage(conn)
                    if record is not None:
                        conn.execute(
                            sql.SQL(
                                "INSERT INTO {} (environment, serial, lineage, applied_at, commit, "
                                "actor, summary, note, record) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                            ).format(self._t("states")),
                            (
                                self.environment,
                                record.serial,
                                record.lineage,
                                record.applied_at,
                                record.commit,
                                record.actor,
                                Jsonb(dict(record.summary)),
                                record.note,
                                Jsonb(record.to_json()),
                            ),
                        )
                    if entries:
                        with conn.cursor() as cur:
                            cur.executemany(
                                sql.SQL("INSERT INTO {} (environment, entry) VALUES (%s, %s)").format(self._t("audit")),
                                entries,
                            )
                    if seal is not None:
                        conn.execute(
                            sql.SQL("DELETE FROM {} WHERE environment = %s").format(self._t("journal")),
                            (self.environment,),
                        )
            except psycopg.errors.UniqueViolation:
                assert record is not None  # only a version's INSERT can collide
                raise UserError(
                    f"another apply committed serial {record.serial} of {self.environment} first; plan again",
                    code=state_rules.STATE_CONFLICT.code,
                ) from None

    def discard_journal(self, note: dict, entries: list[dict]) -> None:
        """A journal that cannot be folded: the audit log records it (with its changes) as it is deleted."""
        with self.fenced() as conn, conn.transaction():
            conn.execute(
                sql.SQL("INSERT INTO {} (environment, entry) VALUES (%s, %s)").format(self._t("audit")),
                (self.environment, Jsonb(json.loads(json.dumps({**note, "journal": entries}, default=str)))),
            )
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE environment = %s").format(self._t("journal")), (self.environment,)
            )

    def history(self) -> list[dict]:
        with self._session() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT record - 'effective' - 'sources' FROM {} WHERE environment = %s ORDER BY serial"
                ).format(self._t("states")),
                (self.environment,),
            ).fetchall()
        return [r[0] for r in rows]

    def version(self, serial: int) -> StateRecord:
        with self._session() as conn:
            row = conn.execute(
                sql.SQL("SELECT record FROM {} WHERE environment = %s AND serial = %s").format(self._t("states")),
                (self.environment, serial),
            ).fetchone()
        if row is None:
            raise UserError(f"{self.environment} has no applied version {serial}", code=state_rules.NO_VERSION.code)
        return StateRecord.from_json(row[0], f"PostgreSQL state of {self.environment}")

    # -- audit ---------------------------------------------------------------------------------------
    def prepare_audit(self, changes: Iterable[dict]) -> None:
        return None  # rows are inserted in one transaction: nothing to gain from making them ahead

    def append_audit(self, entries: Iterable[dict]) -> None:
        rows = [(self.environment, Jsonb(json.loads(json.dumps(e, default=str)))) for e in entries]
        if not rows:
            return
        with self.fenced() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {} (environment, entry) VALUES (%s, %s)").format(self._t("audit")), rows
            )

    def read_audit(self, event: str | None = None) -> list[dict]:
        """Every entry, or those of `event` (selected by the database)."""
        with self._session() as conn:
            if event is None:
                rows = conn.execute(
                    sql.SQL("SELECT entry FROM {} WHERE environment = %s ORDER BY id").format(self._t("audit")),
                    (self.environment,),
                ).fetchall()
            else:
                rows = conn.execute(
                    sql.SQL("SELECT entry FROM {} WHERE environment = %s AND entry->>'event' = %s ORDER BY id").format(
                        self._t("audit")
                    ),
                    (self.environment, event),
                ).fetchall()
        return [r[0] for r in rows]

    # -- journal -------------------------------------------------------------------------------------
    @property
    def journal(self) -> PostgresJournal:
        return PostgresJournal(self)
