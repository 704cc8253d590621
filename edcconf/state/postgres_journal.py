"""The PostgreSQL state backend's apply journal: rows beside the versions, cleared in a version's own
transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

if TYPE_CHECKING:
    from .postgres import PostgresBackend


def _one(cur: psycopg.Cursor[Any]) -> Any:
    """The first value of a query that always returns one row (an aggregate, a function, INSERT ... RETURNING)."""
    row = cur.fetchone()
    assert row is not None
    return row[0]


class PostgresJournal:
    """The apply journal as rows: seq 0 is the header, then one row per change that happened. A commit
    clears it in the version's own transaction, so it never needs a seal."""

    def __init__(self, backend: PostgresBackend) -> None:
        self.b = backend

    def begin(self, header: dict) -> None:
        with self.b.fenced() as conn, conn.transaction():
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE environment = %s").format(self.b._t("journal")), (self.b.environment,)
            )
            conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, 0, %s)").format(self.b._t("journal")),
                (self.b.environment, Jsonb(header)),
            )

    def prepare(self, entries: Iterable[dict]) -> None:
        return None  # rows are inserted in one transaction: nothing to gain from making them ahead

    def append(self, entries: Iterable[dict], prepared: None = None) -> None:
        entries = list(entries)
        if not entries:
            return
        with self.b.fenced() as conn, conn.transaction():
            start = _one(
                conn.execute(
                    sql.SQL("SELECT coalesce(max(seq), 0) FROM {} WHERE environment = %s").format(self.b._t("journal")),
                    (self.b.environment,),
                )
            )
            with conn.cursor() as cur:
                cur.executemany(
                    sql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(self.b._t("journal")),
                    [
                        (self.b.environment, start + i + 1, Jsonb(json.loads(json.dumps(e, default=str))))
                        for i, e in enumerate(entries)
                    ],
                )

    def header(self) -> dict | None:
        with self.b._session() as conn:
            row = conn.execute(
                sql.SQL("SELECT entry FROM {} WHERE environment = %s AND seq = 0").format(self.b._t("journal")),
                (self.b.environment,),
            ).fetchone()
        return row[0] if row else None

    def read(self) -> tuple[dict, list[dict], None] | None:
        with self.b._session() as conn:
            rows = conn.execute(
                sql.SQL("SELECT seq, entry FROM {} WHERE environment = %s ORDER BY seq").format(self.b._t("journal")),
                (self.b.environment,),
            ).fetchall()
        if not rows or rows[0][0] != 0:
            return None
        return rows[0][1], [r[1] for r in rows[1:]], None

    def clear(self) -> None:
        with self.b.fenced() as conn:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE environment = %s").format(self.b._t("journal")), (self.b.environment,)
            )
