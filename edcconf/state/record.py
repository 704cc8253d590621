"""The state record: the last applied effective state of one environment, and how changes fold into it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..diagnostics import UserError
from ..resolve.effective import STATE_SECTIONS
from ..resolve.sections import RecordedState, Section, empty_record, recorded
from ..rules import state as state_rules

STATE_FORMAT_VERSION = 1
# The record also keeps the environment's guards (protection and brakes) as last applied, under
# "environment" (keyed by the environment's name): the next apply is held to them, not to the
# configuration under review (plan/brakes.py).
# "observed" keeps, per username, what a system's own file showed that edcconf neither declares nor
# plans (Vault's Last Login, 003, from `state import ... vault`): carried from one state version to
# the next, shown by `show`, never diffed.
RECORD_SECTIONS = STATE_SECTIONS + ("environment", "observed")
SECTION_OF = {
    "account": "accounts",
    "grant": "grants",
    "group": "groups",
    "study": "studies",
    "site": "sites",
    "environment": "environment",
}


@dataclass(frozen=True)
class StateRecord:
    environment: str
    serial: int = 0
    lineage: str | None = None
    applied_at: str | None = None
    commit: str | None = None
    effective: RecordedState = field(default_factory=empty_record)
    sources: Mapping[str, str] = field(default_factory=dict)
    actor: str | None = None
    summary: Mapping[str, int] = field(default_factory=dict)  # what the apply that wrote it did
    note: str | None = None  # e.g. "recovered from an interrupted apply"

    @property
    def exists(self) -> bool:
        return self.serial > 0

    def to_json(self) -> dict:
        return {
            "format_version": STATE_FORMAT_VERSION,
            "environment": self.environment,
            "serial": self.serial,
            "lineage": self.lineage,
            "applied_at": self.applied_at,
            "commit": self.commit,
            "actor": self.actor,
            "summary": dict(self.summary),
            "note": self.note,
            "effective": self.effective,
            "sources": self.sources,
        }

    def meta(self) -> dict:
        """The record without its (possibly large) effective state: one line of history."""
        return {k: v for k, v in self.to_json().items() if k not in ("effective", "sources")}

    @classmethod
    def from_json(cls, data: Any, where: str) -> StateRecord:
        if not isinstance(data, dict):
            raise UserError(
                f"{where} is not an edcconf state (expected a JSON object); restore it from the backup {where}.backup",
                code=state_rules.STATE_INVALID.code,
            )
        version = data.get("format_version")
        if version != STATE_FORMAT_VERSION:
            raise UserError(
                f"{where} has state format_version {version!r}; this edcconf reads version "
                f"{STATE_FORMAT_VERSION}. Use the edcconf that wrote it, or restore {where}.backup",
                code=state_rules.STATE_INVALID.code,
            )
        problem = shape_problem(data)
        if problem:  # e.g. a serial edited to "2" or -5: never taken for a number it is not
            raise UserError(
                f"{where} is damaged: {problem}; it may have been edited by hand. Restore it from the "
                f"backup {where}.backup",
                code=state_rules.STATE_INVALID.code,
            )
        try:
            effective = recorded({s: dict(data["effective"].get(s) or {}) for s in RECORD_SECTIONS})
            return cls(
                environment=data["environment"],
                serial=int(data["serial"]),
                lineage=data.get("lineage"),
                applied_at=data.get("applied_at"),
                commit=data.get("commit"),
                effective=effective,
                sources=dict(data.get("sources") or {}),
                actor=data.get("actor"),
                summary=dict(data.get("summary") or {}),
                note=data.get("note"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UserError(
                f"{where} is damaged ({exc.__class__.__name__}: {exc}); restore it from the backup {where}.backup",
                code=state_rules.STATE_INVALID.code,
            ) from None


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def shape_problem(data: Mapping) -> str | None:
    """What breaks the shape every later step relies on, or None: the serial a whole number (not text,
    not negative), the effective state's sections objects of objects, the texts texts."""
    serial = data.get("serial")
    if type(serial) is not int or serial < 0:
        return f'"serial" is {_shown(serial)}, not a whole number of 0 or more (written without quotes)'
    effective = data.get("effective")
    if not isinstance(effective, dict):
        return f'"effective" is {_shown(effective)}, not an object'
    for section in STATE_SECTIONS:
        entries = effective.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            return f'"effective.{section}" is {_shown(entries)}, not an object'
        for key, value in entries.items():
            if not isinstance(value, dict):
                return f'"effective.{section}.{key}" is {_shown(value)}, not an object'
    for key in ("environment", "lineage", "applied_at", "commit", "actor", "note"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f'"{key}" is {_shown(data[key])}, not text'
    for key, kind, ok in (
        ("sources", "text", lambda v: isinstance(v, str)),
        ("summary", "a whole number", lambda v: type(v) is int),
    ):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            return f'"{key}" is {_shown(value)}, not an object'
        bad = next((k for k, v in value.items() if not ok(v)), None)
        if bad is not None:
            return f'"{key}.{bad}" is {_shown(value[bad])}, not {kind}'
    return None


def fold(effective: Mapping[str, Any], changes: Iterable[Any]) -> RecordedState:  # plan.Change (not imported)
    """The effective state after the given changes (those that succeeded), applied in order."""
    # New section dicts, shared values: entries are plain JSON values that no stage mutates once built,
    # and a deep copy of 200,000 grants per apply costs more than everything else the apply does.
    out: dict[str, Section] = {s: dict(effective.get(s) or {}) for s in RECORD_SECTIONS}
    for change in changes:
        section = out[SECTION_OF[change.kind]]
        if change.stored is None:
            section.pop(change.key, None)
        else:
            section[change.key] = change.stored
        if change.role is not None:
            ref, value = change.role
            out["roles"][ref] = value
    used = {g.get("role_ref") for g in out["grants"].values()}
    out["roles"] = {ref: v for ref, v in out["roles"].items() if ref in used}
    return recorded(out)


def next_record(
    previous: StateRecord,
    effective: RecordedState,
    sources: Mapping[str, str],
    commit: str | None,
    actor: str | None = None,
    summary: Mapping[str, int] | None = None,
    note: str | None = None,
) -> StateRecord:
    return replace(
        previous,
        serial=previous.serial + 1,
        lineage=previous.lineage or str(uuid.uuid4()),
        applied_at=datetime.now(UTC).isoformat(timespec="seconds"),
        commit=commit,
        effective=effective,
        sources=dict(sources),
        actor=actor,
        summary=dict(summary or {}),
        note=note,
    )


def summarize(changes: Iterable) -> dict[str, int]:
    out = {"add": 0, "change": 0, "revoke": 0}
    for c in changes:
        out[
            "add"
            if c.action in ("create", "reactivate")
            else "revoke"
            if c.action in ("revoke", "deactivate")
            else "change"
        ] += 1
    return out
