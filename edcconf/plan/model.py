"""What a plan is: ordered changes, each with its reason and source, against one state version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, cast, get_args

from ..diagnostics import Diagnostic
from ..rules import plan as plan_rules

if TYPE_CHECKING:
    from .select import Partial

PLAN_FORMAT_VERSION = 1
# what a change does, and to what: the strings the JSON of a plan (and a saved plan) carries
Action = Literal["create", "update", "revoke", "deactivate", "reactivate"]
Kind = Literal["account", "grant", "group", "study", "site", "environment"]  # environment: its guards
ACTIONS: tuple[Action, ...] = get_args(Action)
KINDS: tuple[Kind, ...] = get_args(Kind)
ADD_ACTIONS: tuple[Action, ...] = ("create", "reactivate")
REVOKE_ACTIONS: tuple[Action, ...] = ("revoke", "deactivate")
# plan/brakes.py: the brakes apply refuses (unless allowed)
BrakeCode = Literal["mass-revocation", "data-manager-floor"]  # the brake rules' codes (a test compares them)
MASS_REVOCATION: Final = cast(BrakeCode, plan_rules.MASS_REVOCATION.code)
DATA_MANAGER_FLOOR: Final = cast(BrakeCode, plan_rules.DATA_MANAGER_FLOOR.code)
BRAKE_CODES: tuple[BrakeCode, ...] = get_args(BrakeCode)


@dataclass(frozen=True)
class Change:
    action: Action
    kind: Kind  # environment: its guards (plan/brakes.py)
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

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
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
class Brake:
    """A reason apply refuses a plan unless told otherwise (plan/brakes.py); study: the study it counts."""

    code: BrakeCode
    message: str
    study: str | None = None

    def to_json(self) -> dict[str, str]:
        out: dict[str, str] = {"code": self.code}  # this key order is the plan's JSON (and a saved plan's)
        if self.study is not None:
            out["study"] = self.study
        out["message"] = self.message
        return out

    @classmethod
    def from_json(cls, data: object) -> Brake:
        """A brake as to_json wrote it (a saved plan, the memo); ValueError for anything else."""
        if not isinstance(data, Mapping) or not set(data) <= {"code", "study", "message"}:
            raise ValueError("brakes are not of the saved shape")
        code, message, study = data.get("code"), data.get("message"), data.get("study")
        for c in BRAKE_CODES:  # narrows the code to the Literal
            if code == c and isinstance(message, str) and isinstance(study, (str, type(None))):
                return cls(c, message, study)
        raise ValueError("brakes are not of the saved shape")


@dataclass(frozen=True)
class Plan:
    environment: str
    serial: int  # state serial the plan was made against
    lineage: str | None
    as_of: date
    changes: tuple[Change, ...]
    warnings: tuple[Diagnostic, ...] = ()
    brakes: tuple[Brake, ...] = field(default=())  # apply refuses unless allowed
    partial: Partial | None = None  # when made with --study/--target: what it kept and left out

    @property
    def summary(self) -> dict[str, int]:
        add = sum(c.action in ADD_ACTIONS for c in self.changes)
        revoke = sum(c.action in REVOKE_ACTIONS for c in self.changes)
        return {"add": add, "change": len(self.changes) - add - revoke, "revoke": revoke}

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format_version": PLAN_FORMAT_VERSION,
            "environment": self.environment,
            "state": {"serial": self.serial, "lineage": self.lineage},
            "as_of": self.as_of.isoformat(),
            "changes": [c.to_json() for c in self.changes],
            "summary": self.summary,
            "warnings": [w.to_json() for w in self.warnings],
            "brakes": [b.to_json() for b in self.brakes],
        }
        if self.partial is not None:
            out["partial"] = self.partial.to_json()
        return out


class PlanForReview(Protocol):
    """What `plan` prints and saves (workflow.plan_for_review): a plan made now (workflow.PlannedEnvironment),
    from the memo (plan/memo.MemoPlanned) or made incrementally (incremental/replay.IncrementalPlanned)."""

    @property
    def plan(self) -> Plan: ...

    @property
    def config_digest(self) -> str: ...

    @property
    def systems(self) -> Mapping[str, str]:
        """study -> EDC system (desired and previously applied studies)"""
        ...

    @property
    def sources(self) -> Mapping[str, str]:
        """desired '<kind>:<key>' -> 'path:line'"""
        ...
