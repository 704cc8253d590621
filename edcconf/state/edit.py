"""`edcconf state rm`, `state mv` and `state push`: edit what an environment's applied state records,
as Terraform's state commands do, each as a new version with an audit entry, under the lock.

- rm forgets recorded things (the next plan creates them again if they are still declared): for when an
  account or grant was removed in the system by hand and should not be revoked again. A role version still
  used by a recorded grant cannot be forgotten.
- mv gives a recorded grant a new key, e.g. `<study>/<user>` → `<study>/<user>/<role>` when a person gets a
  second role in the study and the first grant should keep the role-keyed address. Only grants move, and
  only to a key of the same study and person: usernames, sites and studies never change (001).
- push replaces the state with a file pulled from it (`state pull`) and edited: it must be of the same
  lineage and not older than the state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from ..diagnostics import UserError
from ..resolve.sections import RecordedState, Section, sections_of
from ..rules import commands as commands_rules
from ..rules import state as state_rules
from .backend import StateBackend
from .locking import actor
from .record import StateRecord

SECTIONS = {
    "account": "accounts",
    "group": "groups",
    "site": "sites",
    "study": "studies",
    "role": "roles",
    "grant": "grants",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _edit(
    backend: StateBackend, operation: str, change: Callable[[StateRecord], tuple[RecordedState, dict, dict]]
) -> StateRecord:
    """Under the lock: the current state, changed by `change` (→ effective, sources, audit details), written
    as the next version with its audit entry in the same step."""
    env = backend.environment
    with backend.lock(f"state {operation}"):
        current = backend.read()
        if not current.exists:
            raise UserError(f"{env} has no applied state to edit", code=state_rules.NOT_IN_STATE.code)
        effective, sources, details = change(current)
        record = replace(
            current,
            serial=current.serial + 1,
            applied_at=_now(),
            actor=actor(),
            summary={},
            note=f"state {operation}",
            effective=effective,
            sources=sources,
        )
        entry = {
            "event": f"state-{operation}",
            "actor": actor(),
            "time": record.applied_at,
            "environment": env,
            "serial": record.serial,
            "lineage": record.lineage,
            **details,
        }
        backend.commit(record, current.serial, [entry], base_lineage=current.lineage)
    return record


def _split(address: str, effective: Mapping[str, Section]) -> tuple[str, str, str]:
    kind, _, key = address.partition(".")
    section = SECTIONS.get(kind)
    if section is None or key not in (effective.get(section) or {}):
        raise UserError(
            f"{address!r} is not in the state (`edcconf state list` lists what is)", code=state_rules.NOT_IN_STATE.code
        )
    return kind, section, key


def remove(backend: StateBackend, addresses: Iterable[str]) -> StateRecord:
    wanted = list(dict.fromkeys(addresses))

    def change(current: StateRecord) -> tuple[RecordedState, dict, dict]:
        effective = copy.deepcopy(current.effective)
        sections = sections_of(effective)
        sources = dict(current.sources)
        for address in wanted:
            kind, section, key = _split(address, sections)
            if kind == "role":
                users = sorted(
                    k
                    for k, g in effective.get("grants", {}).items()
                    if g.get("role_ref") == key and f"grant.{k}" not in wanted
                )
                if users:
                    raise UserError(
                        f"{address} is the role of recorded grants ({', '.join(users[:5])}"
                        f"{', …' if len(users) > 5 else ''}): remove those first",
                        code=state_rules.STATE_IN_USE.code,
                    )
            del sections[section][key]
            sources.pop(f"{kind}:{key}", None)
        return effective, sources, {"removed": wanted}

    return _edit(backend, "rm", change)


def move(backend: StateBackend, source: str, target: str) -> StateRecord:
    def change(current: StateRecord) -> tuple[RecordedState, dict, dict]:
        effective = copy.deepcopy(current.effective)
        sections = sections_of(effective)
        kind, section, key = _split(source, sections)
        new_kind, _, new_key = target.partition(".")
        if kind != "grant" or new_kind != "grant":
            raise UserError(
                "only grants move: usernames, sites, studies and groups never change their id (001); "
                "a rename is a new thing declared, planned and applied",
                code=commands_rules.USAGE.code,
            )
        grant = sections[section][key]
        person = f"{grant.get('study')}/{grant.get('user')}"
        if new_key not in (person, f"{person}/{grant.get('role')}"):
            raise UserError(
                f"the grant {key} is {grant.get('user')}'s in {grant.get('study')} as {grant.get('role')}: "
                f"it can be {person} or {person}/{grant.get('role')}, not {new_key}",
                code=commands_rules.USAGE.code,
            )
        if new_key in sections[section]:
            raise UserError(f"{target} is already in the state", code=commands_rules.USAGE.code)
        sections[section][new_key] = sections[section].pop(key)
        sources = dict(current.sources)
        if f"grant:{key}" in sources:
            sources[f"grant:{new_key}"] = sources.pop(f"grant:{key}")
        return effective, sources, {"moved": source, "to": target}

    return _edit(backend, "mv", change)


def push(backend: StateBackend, pushed: StateRecord) -> StateRecord:
    env = backend.environment

    def change(current: StateRecord) -> tuple[RecordedState, dict, dict]:
        if pushed.environment != env:
            raise UserError(
                f"the file is the state of {pushed.environment!r}, not {env!r}", code=state_rules.STATE_LINEAGE.code
            )
        if pushed.lineage != current.lineage:
            raise UserError(
                f"the file is of another lineage ({pushed.lineage}) than the state of {env} "
                f"({current.lineage}); `state restore --from FILE --force` replaces a history",
                code=state_rules.STATE_LINEAGE.code,
            )
        if pushed.serial < current.serial:
            raise UserError(
                f"the file was pulled at serial {pushed.serial}, and the state of {env} has moved on to "
                f"{current.serial}: pull again and redo the edit",
                code=state_rules.STALE_STATE.code,
            )
        return copy.deepcopy(pushed.effective), dict(pushed.sources), {"pushed_from_serial": pushed.serial}

    return _edit(backend, "push", change)
