"""What a plan is: ordered changes, each with its reason and source, against one state version."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..diagnostics import Diagnostic

PLAN_FORMAT_VERSION = 1
ADD_ACTIONS = ("create", "reactivate")
REVOKE_ACTIONS = ("revoke", "deactivate")


@dataclass(frozen=True)
class Change:
    action: str  # create | update | revoke | deactivate | reactivate
    kind: str  # account | grant | group | study | site | environment (its guards: plan/brakes.py)
    key: str  # "<study>/<username>" for a grant, the environment's name for its guards
    before: Any  # effective value as applied (grants expanded with form levels), None when absent
    after: Any  # effective value as desired, None when absent
    reason: str  # for a human reviewer: "role crc → crc_no_contact", "expired on 2026-01-31"
    source: str  # "path:line" of the declaration, or of the one removed
    study: str | None = None
    details: tuple[str, ...] = ()  # one line per changed field
    stored: Any = None  # the compact value the state keeps (grants: without form levels)
    role: tuple[str, Any] | None = None  # (role ref, role value) a grant's stored value points at
    notify: tuple[str, ...] = ()  # people to tell (e.g. the PI and requester of a new external account)
    invite: bool = False  # OpenClinica: a grant to an account that exists is an invitation (001)
    agreement_notify: tuple[str, ...] = ()  # people to tell of an external agreement recorded (admins, requester)

    def to_json(self) -> dict:
        out = {
            "action": self.action,
            "kind": self.kind,
            "key": self.key,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "source": self.source,
        }
        if self.details:
            out["details"] = list(self.details)
        if self.notify:
            out["notify"] = list(self.notify)
        if self.invite:
            out["invite"] = True
        if self.agreement_notify:
            out["agreement_notify"] = list(self.agreement_notify)
        return out


@dataclass(frozen=True)
class Plan:
    environment: str
    serial: int  # state serial the plan was made against
    lineage: str | None
    as_of: date
    changes: tuple[Change, ...]
    warnings: tuple[Diagnostic, ...] = ()
    brakes: tuple[dict, ...] = field(default=())  # {code, message, study?}: apply refuses unless allowed
    partial: Any = None  # plan/select.Partial when made with --study/--target: what it kept and left out

    @property
    def summary(self) -> dict[str, int]:
        add = sum(c.action in ADD_ACTIONS for c in self.changes)
        revoke = sum(c.action in REVOKE_ACTIONS for c in self.changes)
        return {"add": add, "change": len(self.changes) - add - revoke, "revoke": revoke}

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_json(self) -> dict:
        out = {
            "format_version": PLAN_FORMAT_VERSION,
            "environment": self.environment,
            "state": {"serial": self.serial, "lineage": self.lineage},
            "as_of": self.as_of.isoformat(),
            "changes": [c.to_json() for c in self.changes],
            "summary": self.summary,
            "warnings": [w.to_json() for w in self.warnings],
            "brakes": list(self.brakes),
        }
        if self.partial is not None:
            out["partial"] = self.partial.to_json()
        return out
