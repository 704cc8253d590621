"""Saved plans (`plan --out FILE`): exactly what was reviewed, bound to the state and configuration
it was made against, so that `apply FILE` applies that and nothing else, or refuses.

The digest in the file only tells that it was not damaged or edited by accident: anyone who can edit
the file can recompute it. What makes the file safe to apply is that `apply FILE` plans again from the
configuration and state it names (same environment, as-of date, serial, lineage and configuration
digest) and applies only if that plan is identical to the file's (plan_differences)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..diagnostics import Diagnostic, Loc, UserError
from ..fs import write_atomically
from ..rules import plan as plan_rules
from .model import ACTIONS, KINDS, Brake, Change, Plan
from .select import Partial

SAVED_FORMAT = "edcconf-saved-plan"
SAVED_VERSION = 1


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    config_digest: str
    edcconf_version: str
    created_at: str
    systems: Mapping[str, str]  # study -> EDC system, for routing changes to providers
    sources: Mapping[str, str]  # desired "<kind>:<key>" -> "path:line", recorded in the new state
    digest: str  # sha256 of the saved content: what the audit log names
    planned_on: str | None = None  # the (local) day it was planned: as_of differs when made with --at
    refresh: bool = True  # how it was planned (apply plans again the same way)
    allow_unread: bool = False


def change_to_saved(change: Change) -> dict[str, Any]:
    return {
        **change.to_json(),
        "study": change.study,
        "details": list(change.details),
        "stored": change.stored,
        "role": list(change.role) if change.role else None,
        "notify": list(change.notify),
        "agreement_notify": list(change.agreement_notify),
    }


def change_from_saved(data: Mapping[str, Any]) -> Change:
    return Change(
        action=data["action"],
        kind=data["kind"],
        key=data["key"],
        before=data["before"],
        after=data["after"],
        reason=data["reason"],
        source=data["source"],
        study=data.get("study"),
        details=tuple(data.get("details") or ()),
        stored=data.get("stored"),
        role=tuple(data["role"]) if data.get("role") else None,
        notify=tuple(data.get("notify") or ()),
        invite=data.get("invite") is True,
        agreement_notify=tuple(data.get("agreement_notify") or ()),
    )


def _content(
    plan: Plan,
    config_digest: str,
    systems: Mapping[str, str],
    sources: Mapping[str, str],
    created_at: str,
    version: str,
    planned_on: str,
    refresh: bool,
    allow_unread: bool,
) -> dict[str, Any]:
    return {
        "format": SAVED_FORMAT,
        "format_version": SAVED_VERSION,
        "edcconf_version": version,
        "created_at": created_at,
        "planned_on": planned_on,
        "refresh": refresh,
        "allow_unread": allow_unread,
        "environment": plan.environment,
        "state": {"serial": plan.serial, "lineage": plan.lineage},
        "config_digest": config_digest,
        "as_of": plan.as_of.isoformat(),
        "summary": plan.summary,
        "brakes": [b.to_json() for b in plan.brakes],
        "warnings": [w.to_json() for w in plan.warnings],
        "changes": [change_to_saved(c) for c in plan.changes],
        "systems": dict(systems),
        "sources": dict(sources),
        # a partial plan (--study/--target) keeps its selection: `apply FILE` plans again with it
        **({"partial": plan.partial.to_json()} if plan.partial is not None else {}),
    }


def _digest(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def save_plan(
    path: Path,
    plan: Plan,
    config_digest: str,
    systems: Mapping[str, str],
    sources: Mapping[str, str],
    refresh: bool = True,
    allow_unread: bool = False,
) -> SavedPlan:
    created = datetime.now(UTC).isoformat(timespec="seconds")
    planned_on = date.today().isoformat()
    content = _content(plan, config_digest, systems, sources, created, __version__, planned_on, refresh, allow_unread)
    digest = _digest(content)
    write_atomically(Path(path), json.dumps({**content, "digest": digest}, indent=1).encode() + b"\n")
    return SavedPlan(
        plan, config_digest, __version__, created, systems, sources, digest, planned_on, refresh, allow_unread
    )


def load_plan(path: Path) -> SavedPlan:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise UserError(f"no saved plan at {path}", code=plan_rules.SAVED_PLAN.code) from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not a saved edcconf plan ({exc})", code=plan_rules.SAVED_PLAN.code) from None
    if not isinstance(data, dict) or data.get("format") != SAVED_FORMAT:
        raise UserError(
            f"{path} is not a saved edcconf plan (make one with edcconf plan --env ENV --out FILE)",
            code=plan_rules.SAVED_PLAN.code,
        )
    if data.get("format_version") != SAVED_VERSION:
        raise UserError(
            f"{path} is a saved plan of format {data.get('format_version')!r}; this edcconf reads "
            f"format {SAVED_VERSION}",
            code=plan_rules.SAVED_PLAN.code,
        )
    digest = data.pop("digest", None)
    if digest != _digest(data):
        raise UserError(
            f"{path} was modified after it was saved (its digest does not match); a reviewed plan "
            "must be applied exactly as saved: plan again",
            code=plan_rules.SAVED_PLAN.code,
        )
    try:
        warnings = tuple(
            Diagnostic(w["code"], w["message"], _loc(w.get("source", "")), "warning") for w in data["warnings"]
        )
        plan = Plan(
            environment=data["environment"],
            serial=data["state"]["serial"],
            lineage=data["state"]["lineage"],
            as_of=date.fromisoformat(data["as_of"]),
            changes=tuple(change_from_saved(c) for c in data["changes"]),
            warnings=warnings,
            brakes=tuple(Brake.from_json(b) for b in data.get("brakes") or ()),
            partial=_partial(data.get("partial")),
        )
        for c in plan.changes:
            if (
                c.action not in ACTIONS  # what the Action and Kind types promise the code that reads a plan
                or c.kind not in KINDS
                or not all(isinstance(v, str) for v in (c.key, c.reason, c.source))
                or not isinstance(c.study, (str, type(None)))
            ):
                raise ValueError(f"change {c.kind} {c.key} is not of the saved shape")
        if (
            not isinstance(plan.environment, str)
            or not isinstance(plan.serial, int)
            or not isinstance(plan.lineage, (str, type(None)))
        ):
            raise ValueError("environment or state is not of the saved shape")
        planned_on = data.get("planned_on")
        saved = SavedPlan(
            plan,
            _text(data["config_digest"]),
            _text(data["edcconf_version"]),
            _text(data["created_at"]),
            _mapping(data.get("systems")),
            _mapping(data.get("sources")),
            digest,
            planned_on if isinstance(planned_on, str) else None,
            data.get("refresh") is not False,
            data.get("allow_unread") is True,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{path} is damaged ({exc}); plan again", code=plan_rules.SAVED_PLAN.code) from None
    return saved


def _partial(value: Any) -> Partial | None:
    return None if value is None else Partial.from_json(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _mapping(value: Any) -> Mapping[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError("systems or sources are not of the saved shape")
    return value


def _loc(source: str) -> Loc:
    path, _, line = source.rpartition(":")
    return Loc(path, int(line)) if path and line.isdigit() else Loc(source)


def check_fresh(saved: SavedPlan, path: Path, serial: int, lineage: str | None, config_digest: str) -> None:
    """Refuse a stale plan, saying what changed since it was made."""
    if saved.edcconf_version != __version__:
        raise UserError(
            f"{path} was made by edcconf {saved.edcconf_version} and this is {__version__}; "
            "plan again with this version",
            code=plan_rules.STALE_PLAN.code,
        )
    if (serial, lineage) != (saved.plan.serial, saved.plan.lineage):
        what = f"serial {saved.plan.serial} → {serial}"
        if saved.plan.lineage and lineage != saved.plan.lineage:  # a different state altogether
            what += f", lineage {saved.plan.lineage} → {lineage}"
        raise UserError(
            f"{path} is stale: the state of {saved.plan.environment} moved on since it was planned "
            f"({what}); plan again and have it reviewed",
            code=plan_rules.STALE_PLAN.code,
        )
    if config_digest != saved.config_digest:
        raise UserError(
            f"{path} is stale: the configuration changed since it was planned (digest "
            f"{saved.config_digest[:12]} → {config_digest[:12]}); plan again and have it reviewed",
            code=plan_rules.STALE_PLAN.code,
        )


def _normal(value: Any) -> Any:
    """A value as it reads back from the saved JSON (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _as_saved(change: Change) -> Change:
    return change_from_saved(_normal(change_to_saved(change)))


def plan_differences(
    saved: Plan,
    now: Plan,
    saved_extra: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
    now_extra: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
    limit: int = 8,
) -> list[str]:
    """What differs between a saved plan and the plan made again now (environment, state, as-of date,
    changes, brakes, warnings; with the extras, the studies' systems and the declaration sources), one
    phrase each, at most `limit` of them (then how many more). Empty when they are identical."""
    out: list[str] = []
    for label, a, b in (
        ("environment", saved.environment, now.environment),
        ("state serial", saved.serial, now.serial),
        ("state lineage", saved.lineage, now.lineage),
        ("as-of date", saved.as_of, now.as_of),
    ):
        if a != b:
            out.append(f"{label} {a} in the file, {b} now")
    mine = {(c.kind, c.key): c for c in saved.changes}
    theirs = {(c.kind, c.key): _as_saved(c) for c in now.changes}
    for (kind, key), c in mine.items():
        other = theirs.get((kind, key))
        if other is None:
            out.append(f"the file has {c.action} {kind} {key}, which the configuration does not plan")
        elif other != c:
            fields = [f.name for f in dataclasses.fields(Change) if getattr(c, f.name) != getattr(other, f.name)]
            out.append(f"{kind} {key} differs ({', '.join(fields)})")
    out += [
        f"the file lacks {c.action} {kind} {key}, which the configuration plans"
        for (kind, key), c in theirs.items()
        if (kind, key) not in mine
    ]
    if not out and [(c.kind, c.key) for c in saved.changes] != list(theirs):
        out.append("the changes are listed in another order, or one is listed twice")
    if saved.brakes != now.brakes:
        out.append(f"brakes {_codes(saved.brakes)} in the file, {_codes(now.brakes)} now")
    if _normal(_partial_json(saved)) != _normal(_partial_json(now)):
        out.append("the partial plan's selection, or what it needs or leaves out, differs")
    if [(w.code, w.message, w.source) for w in saved.warnings] != [(w.code, w.message, w.source) for w in now.warnings]:
        out.append(f"warnings differ ({len(saved.warnings)} in the file, {len(now.warnings)} now)")
    if saved_extra is not None and now_extra is not None:
        for label, in_file, made_now in zip(("studies' systems", "declaration sources"), saved_extra, now_extra):
            if _normal(dict(in_file)) != _normal(dict(made_now)):
                out.append(f"the {label} differ")
    if len(out) > limit:
        out = out[:limit] + [f"and {len(out) - limit} more"]
    return out


def _partial_json(plan: Plan) -> dict[str, Any] | None:
    return plan.partial.to_json() if plan.partial is not None else None


def _codes(brakes: tuple[Brake, ...]) -> str:
    return ", ".join(b.code + (f" ({b.study})" if b.study else "") for b in brakes) or "none"
