"""PostgreSQL state backend, for teams sharing one state (`state: {backend: postgres, dsn_env: VAR}`).

Tables are created on first use by versioned migrations. Every applied version is its own row (history
is never overwritten); `(environment, serial)` is the primary key, so two applies racing for the same
serial cannot both commit (compare-and-swap). The environment's lock is a session advisory lock, freed by
the server if the holder dies; a row beside it names the holder. The DSN comes only from the environment
variable named in the configuration and never appears in messages.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from typing import Iterable, Iterator

import psycopg
import psycopg.conninfo
from psycopg import sql
from psycopg.types.json import Jsonb

from ..diagnostics import UserError
from .locking import LockInfo, busy_error, named_holder
from .record import StateRecord

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
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
    """),
]
_MIGRATION_LOCK = 0x6564_6363_6F6E_66  # "edcconf": serialises first-use migrations across processes


# -- the connection string: read before libpq does, so that no message can quote a secret ------------------
_SECRET_KEYS = ("password", "sslpassword")
_URL = re.compile(r"postgres(?:ql)?://", re.I)
_PAIR = re.compile(r"([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'?|[^\s']\S*)")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})|%00")
UNREADABLE = ("in the key=value form, quote a value that holds spaces or quotes ('...', with \\' for a quote); in the "
              "URL form (postgresql://user:password@host/db), percent-encode '%', '@', ':' and '/' in the user name and "
              "password (%25, %40, %3A, %2F)")


def dsn_problem(dsn: str) -> str | None:
    """Why libpq would misread a connection string, or quote part of it in its error; None if it reads it
    as written. A URL whose password holds '@' or '/' as they are is split in the wrong place (the rest of
    the password becomes the host, named in the next error); a '%' that starts no escape is quoted whole."""
    url = _URL.match(dsn)
    if url is None:
        return None
    if _BAD_ESCAPE.search(dsn):
        return "holds a '%' that does not begin a percent-escape (write %25 for a '%')"
    rest = dsn[url.end():]
    at, slash = rest.find("@"), rest.find("/")
    if rest.count("@") > 1 or (at >= 0 and 0 <= slash < at):
        return "holds '@' or '/' as they are in its user name or password (write %40 and %2F)"
    return None


def dsn_secrets(dsn: str) -> set[str]:
    """Every text of the connection string that is or may be a password, as written and as decoded: the
    password in a URL's user information and query, and in each password= of the key=value form."""
    from urllib.parse import unquote

    found: set[str] = set()
    url = _URL.match(dsn)
    if url is not None:
        rest = dsn[url.end():]
        head = rest.split("/", 1)[0]
        if "@" in head:
            userinfo = head.rsplit("@", 1)[0]
            password = userinfo.partition(":")[2]
            found |= {userinfo, password, unquote(userinfo), unquote(password)}
        for part in rest.partition("?")[2].split("&"):
            key, _, value = part.partition("=")
            if unquote(key).strip() in _SECRET_KEYS:
                found |= {value, unquote(value)}
    else:
        for key, value in _PAIR.findall(dsn):
            if key in _SECRET_KEYS:
                inner = value[1:-1] if value.startswith("'") and value.endswith("'") and len(value) > 1 else value
                found |= {value, inner, re.sub(r"\\(.)", r"\1", inner)}
    try:
        parsed = psycopg.conninfo.conninfo_to_dict(dsn)
    except (psycopg.Error, ValueError, TypeError):
        parsed = {}
    found |= {str(parsed[k]) for k in _SECRET_KEYS if parsed.get(k)} | {dsn}
    return {s for s in found if s}


def scrub(message: str, secrets: set[str]) -> str:
    """A database error without any password in it (a short one only where it stands alone)."""
    out = message
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            out = out.replace(secret, "***")
        else:
            out = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", out)
    out = re.sub(r"(password\s*=\s*)\S+", r"\1***", out, flags=re.I)
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", out)


class PostgresBackend:
    name = "postgres"

    def __init__(self, environment: str, dsn_env: str, schema: str = "edcconf") -> None:
        self.environment = environment
        self.dsn_env = dsn_env
        self.schema = schema
        dsn = os.environ.get(dsn_env)
        if not dsn:
            raise UserError(f"the state of {environment} is kept in PostgreSQL, and the environment variable "
                            f"{dsn_env} that holds its connection string is not set", code="state-backend")
        problem = dsn_problem(dsn)
        if problem is None:
            try:
                psycopg.conninfo.conninfo_to_dict(dsn)
            except psycopg.Error:  # its message may quote any part of the string: never shown
                problem = "cannot be read as a PostgreSQL connection string"
        if problem is not None:
            raise UserError(f"the connection string in ${dsn_env} (the state of {environment}) {problem}; "
                            f"{UNREADABLE}", code="state-backend")
        self._dsn = dsn
        self._secrets = dsn_secrets(dsn)
        self._migrated = False

    def describe(self) -> str:
        return f"PostgreSQL (schema {self.schema}, DSN from ${self.dsn_env})"

    # -- connections ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _connect(self) -> Iterator[psycopg.Connection]:
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise UserError(f"cannot reach the PostgreSQL state of {self.environment} (${self.dsn_env}): "
                            f"{scrub(str(exc).strip(), self._secrets)}", code="state-read") from None
        try:
            if not self._migrated:
                self._migrate(conn)
            yield conn
        except psycopg.Error as exc:
            raise UserError(f"PostgreSQL state of {self.environment}: {scrub(str(exc).strip(), self._secrets)}; "
                            "nothing was committed by the failed statement", code="state-write") from None
        finally:
            conn.close()

    def _t(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    def _migrate(self, conn: psycopg.Connection) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, "
                                 "applied_at timestamptz NOT NULL DEFAULT now())").format(self._t("schema_migrations")))
            done = {r[0] for r in conn.execute(sql.SQL("SELECT version FROM {}").format(self._t("schema_migrations")))}
            for version, ddl in MIGRATIONS:
                if version not in done:
                    conn.execute(sql.SQL(ddl).format(schema=sql.Identifier(self.schema)))
                    conn.execute(sql.SQL("INSERT INTO {} (version) VALUES (%s)").format(self._t("schema_migrations")),
                                 (version,))
        self._migrated = True

    # -- state ---------------------------------------------------------------------------------------
    def read(self, like=None) -> StateRecord:  # like: see LocalBackend.read (psycopg decodes here)
        with self._connect() as conn:
            row = conn.execute(sql.SQL("SELECT record FROM {} WHERE environment = %s ORDER BY serial DESC LIMIT 1")
                               .format(self._t("states")), (self.environment,)).fetchone()
        return StateRecord.from_json(row[0], f"PostgreSQL state of {self.environment}") if row else StateRecord(self.environment)

    def write(self, record: StateRecord, expected_serial: int) -> None:
        with self._connect() as conn:
            try:
                with conn.transaction():
                    current = conn.execute(sql.SQL("SELECT coalesce(max(serial), 0) FROM {} WHERE environment = %s")
                                           .format(self._t("states")), (self.environment,)).fetchone()[0]
                    if current != expected_serial:
                        raise UserError(f"state of {self.environment} moved from serial {expected_serial} to "
                                        f"{current} while this apply ran; plan again", code="state-conflict")
                    conn.execute(sql.SQL("INSERT INTO {} (environment, serial, lineage, applied_at, commit, actor, "
                                         "summary, note, record) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
                                 .format(self._t("states")),
                                 (self.environment, record.serial, record.lineage, record.applied_at, record.commit,
                                  record.actor, Jsonb(dict(record.summary)), record.note, Jsonb(record.to_json())))
            except psycopg.errors.UniqueViolation:
                raise UserError(f"another apply committed serial {record.serial} of {self.environment} first; "
                                "plan again", code="state-conflict") from None

    def history(self) -> list[dict]:
        with self._connect() as conn:
            rows = conn.execute(sql.SQL("SELECT record - 'effective' - 'sources' FROM {} WHERE environment = %s "
                                        "ORDER BY serial").format(self._t("states")), (self.environment,)).fetchall()
        return [r[0] for r in rows]

    def version(self, serial: int) -> StateRecord:
        with self._connect() as conn:
            row = conn.execute(sql.SQL("SELECT record FROM {} WHERE environment = %s AND serial = %s")
                               .format(self._t("states")), (self.environment, serial)).fetchone()
        if row is None:
            raise UserError(f"{self.environment} has no applied version {serial}", code="no-version")
        return StateRecord.from_json(row[0], f"PostgreSQL state of {self.environment}")

    # -- audit ---------------------------------------------------------------------------------------
    def append_audit(self, entries: list[dict]) -> None:
        with self._connect() as conn, conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(sql.SQL("INSERT INTO {} (environment, entry) VALUES (%s, %s)").format(self._t("audit")),
                                [(self.environment, Jsonb(json.loads(json.dumps(e, default=str)))) for e in entries])

    def read_audit(self) -> list[dict]:
        with self._connect() as conn:
            rows = conn.execute(sql.SQL("SELECT entry FROM {} WHERE environment = %s ORDER BY id")
                                .format(self._t("audit")), (self.environment,)).fetchall()
        return [r[0] for r in rows]

    # -- locks ---------------------------------------------------------------------------------------
    def _lock_key(self) -> int:
        digest = hashlib.sha256(f"edcconf:{self.schema}:{self.environment}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextlib.contextmanager
    def lock(self, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
        with self._connect() as conn:  # the lock lives as long as this session
            deadline = time.monotonic() + timeout
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key(),)).fetchone()[0]:
                if time.monotonic() >= deadline:
                    raise busy_error(self.environment, named_holder(lambda: self._holder(conn)), timeout)
                time.sleep(0.1)
            info = LockInfo.mine(operation)
            conn.execute(sql.SQL("INSERT INTO {} (environment, lock_id, holder, backend_pid) VALUES "
                                 "(%s, %s, %s, pg_backend_pid()) ON CONFLICT (environment) DO UPDATE SET "
                                 "lock_id = EXCLUDED.lock_id, holder = EXCLUDED.holder, backend_pid = EXCLUDED.backend_pid")
                         .format(self._t("locks")), (self.environment, info.id, Jsonb(info.to_json())))
            try:
                yield info
            finally:
                conn.execute(sql.SQL("DELETE FROM {} WHERE environment = %s AND lock_id = %s").format(self._t("locks")),
                             (self.environment, info.id))
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key(),))

    def _holder(self, conn: psycopg.Connection) -> LockInfo | None:
        row = conn.execute(sql.SQL("SELECT holder FROM {} WHERE environment = %s").format(self._t("locks")),
                           (self.environment,)).fetchone()
        return LockInfo.from_json(row[0]) if row else None

    def force_unlock(self, lock_id: str) -> bool:
        """End the holder's database session (which releases its advisory lock) and forget the holder."""
        with self._connect() as conn:
            row = conn.execute(sql.SQL("SELECT backend_pid FROM {} WHERE environment = %s AND lock_id = %s")
                               .format(self._t("locks")), (self.environment, lock_id)).fetchone()
            if row is None:
                return False
            conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
            conn.execute(sql.SQL("DELETE FROM {} WHERE environment = %s AND lock_id = %s").format(self._t("locks")),
                         (self.environment, lock_id))
        return True

    # -- journal -------------------------------------------------------------------------------------
    @property
    def journal(self) -> "PostgresJournal":
        return PostgresJournal(self)


class PostgresJournal:
    """The apply journal as rows: seq 0 is the header, then one row per change that happened."""

    def __init__(self, backend: PostgresBackend) -> None:
        self.b = backend

    def begin(self, header: dict) -> None:
        with self.b._connect() as conn, conn.transaction():
            conn.execute(sql.SQL("DELETE FROM {} WHERE environment = %s").format(self.b._t("journal")), (self.b.environment,))
            conn.execute(sql.SQL("INSERT INTO {} VALUES (%s, 0, %s)").format(self.b._t("journal")),
                         (self.b.environment, Jsonb(header)))

    def append(self, entries: Iterable[dict]) -> None:
        entries = list(entries)
        if not entries:
            return
        with self.b._connect() as conn, conn.transaction():
            start = conn.execute(sql.SQL("SELECT coalesce(max(seq), 0) FROM {} WHERE environment = %s")
                                 .format(self.b._t("journal")), (self.b.environment,)).fetchone()[0]
            with conn.cursor() as cur:
                cur.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(self.b._t("journal")),
                                [(self.b.environment, start + i + 1, Jsonb(json.loads(json.dumps(e, default=str))))
                                 for i, e in enumerate(entries)])

    def read(self) -> tuple[dict, list[dict]] | None:
        with self.b._connect() as conn:
            rows = conn.execute(sql.SQL("SELECT seq, entry FROM {} WHERE environment = %s ORDER BY seq")
                                .format(self.b._t("journal")), (self.b.environment,)).fetchall()
        if not rows or rows[0][0] != 0:
            return None
        return rows[0][1], [r[1] for r in rows[1:]]

    def clear(self) -> None:
        with self.b._connect() as conn:
            conn.execute(sql.SQL("DELETE FROM {} WHERE environment = %s").format(self.b._t("journal")), (self.b.environment,))
