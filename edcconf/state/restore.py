"""`edcconf state restore`: put a state back (deleted, damaged, or wrong) without losing its lineage.

The state is restored from a version under history/ (or a PostgreSQL row), the backup, or a state file
named with --from. Nothing already recorded is overwritten: restoring the newest version over a missing
or damaged state file puts exactly that version back; anything else becomes a new version (the next
serial after every one known) whose content is the restored one, noted as such in `history`. A state of
another lineage (another environment's history, an older rollout) is refused unless forced. The write
is atomic, under the lock, with an audit entry in the same step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ..diagnostics import UserError
from ..rules import commands as commands_rules
from ..rules import state as state_rules
from .backend import StateBackend
from .local import LocalBackend, read_state_file
from .locking import actor
from .record import StateRecord


@dataclass(frozen=True)
class Restored:
    record: StateRecord  # the state now
    source: str  # where it came from, in words
    new_version: bool  # False: the restored version itself was put back


def restore(
    backend: StateBackend, from_path: Path | None = None, serial: int | None = None, force: bool = False
) -> Restored:
    env = backend.environment
    if from_path is not None and serial is not None:
        raise UserError("give --from PATH or --serial N, not both", code=commands_rules.USAGE.code)
    with backend.lock("state restore"):
        try:
            current, damaged = backend.read(missing_ok=True), False
        except UserError as exc:
            if exc.code != "state-invalid":
                raise
            current, damaged = StateRecord(env), True
        if from_path is not None:
            source, where = read_state_file(from_path), str(from_path)
        elif serial is not None:
            source, where = backend.version(serial), f"version {serial}"
        else:
            if current.exists:
                raise UserError(
                    f"the state of {env} is in place (serial {current.serial}); to go back to an earlier "
                    "version, give --serial N (see `edcconf history`) or --from PATH",
                    code=commands_rules.USAGE.code,
                )
            source, where = backend.default_restore_source()
        if source.environment != env:
            raise UserError(
                f"{where} is the state of environment {source.environment!r}, not {env!r}",
                code=state_rules.STATE_LINEAGE.code,
            )
        known_serial, known_lineage = backend.newest_known()
        lineage = current.lineage if current.exists else known_lineage
        if lineage and source.lineage != lineage and not force:
            raise UserError(
                f"{where} is of another lineage ({source.lineage}) than the state of {env} ({lineage}): "
                "it is not this environment's history. If you mean to replace that history with it, "
                "add --force",
                code=state_rules.STATE_LINEAGE.code,
            )
        newest = max(known_serial, current.serial)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        as_it_was = source.serial > newest or (source.serial, source.lineage) == (newest, known_lineage)
        if not current.exists and as_it_was:
            record, new_version = source, False  # exactly as it was: it overwrites no recorded version
        else:
            note = f"restored {where}" if serial is not None else f"restored from {where} (serial {source.serial})"
            record = replace(source, serial=newest + 1, applied_at=now, actor=actor(), summary={}, note=note)
            new_version = True
        replaced = "damaged state" if damaged else f"serial {current.serial}" if current.exists else "missing state"
        entry = {
            "event": "state-restore",
            "actor": actor(),
            "time": now,
            "environment": env,
            "serial": record.serial,
            "lineage": record.lineage,
            "restored_from": where,
            "restored_serial": source.serial,
            "new_version": new_version,
            "forced": force and source.lineage != lineage,
            "replaced": replaced,
        }
        if damaged and isinstance(backend, LocalBackend):
            entry["damaged_copy"] = str(backend.path.with_name(backend.path.name + ".damaged"))
        backend.commit(
            record, None if damaged else current.serial, [entry], restoring=True, base_lineage=current.lineage
        )
    return Restored(record, where, new_version)
