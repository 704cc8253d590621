"""State stage: where each environment's last applied effective state lives."""

from __future__ import annotations

from pathlib import Path

from ..diagnostics import UserError
from ..model import Environment
from ..rules import state as state_rules
from .backend import Journal, StateBackend
from .local import LocalBackend
from .record import STATE_FORMAT_VERSION, StateRecord, fold, next_record


def open_backend(root: Path, environment: Environment) -> StateBackend:
    backend = environment.state.get("backend", "local")
    if backend == "local":
        return LocalBackend(root, environment.name)
    if backend == "postgres":
        from .postgres import PostgresBackend  # psycopg is imported only by teams that use it

        dsn_env = environment.state.get("dsn_env") or "EDCCONF_PG_DSN"
        return PostgresBackend(environment.name, dsn_env, environment.state.get("schema") or "edcconf")
    raise UserError(
        f"state backend {backend!r} of environment {environment.name} is not available in this version of edcconf",
        code=state_rules.STATE_BACKEND.code,
    )


__all__ = [
    "Journal",
    "LocalBackend",
    "StateBackend",
    "StateRecord",
    "STATE_FORMAT_VERSION",
    "fold",
    "next_record",
    "open_backend",
]
