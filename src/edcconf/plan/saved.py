"""Saved plans (`plan --out FILE`): exactly what was reviewed, bound to the state and configuration
it was made against, so that `apply FILE` applies that and nothing else, or refuses."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .. import __version__
from ..diagnostics import Diagnostic, Loc, UserError
from .model import Change, Plan

SAVED_FORMAT = "edcconf-saved-plan"
SAVED_VERSION = 1


@dataclass(frozen=True)
class SavedPlan:
    plan: Plan
    config_digest: str
    edcconf_version: str
    created_at: str
    systems: Mapping[str, str]      # study -> EDC system, for routing changes to providers
    sources: Mapping[str, str]      # desired "<kind>:<key>" -> "path:line", recorded in the new state
    digest: str                     # sha256 of the saved content: what the audit log names


def change_to_saved(change: Change) -> dict:
    return {**change.to_json(), "study": change.study, "details": list(change.details), "stored": change.stored,
            "role": list(change.role) if change.role else None, "notify": list(change.notify)}


def change_from_saved(data: Mapping[str, Any]) -> Change:
    return Change(action=data["action"], kind=data["kind"], key=data["key"], before=data["before"],
                  after=data["after"], reason=data["reason"], source=data["source"], study=data.get("study"),
                  details=tuple(data.get("details") or ()), stored=data.get("stored"),
                  role=tuple(data["role"]) if data.get("role") else None, notify=tuple(data.get("notify") or ()))


def _content(plan: Plan, config_digest: str, systems: Mapping[str, str], sources: Mapping[str, str],
             created_at: str, version: str) -> dict:
    return {"format": SAVED_FORMAT, "format_version": SAVED_VERSION, "edcconf_version": version,
            "created_at": created_at, "environment": plan.environment,
            "state": {"serial": plan.serial, "lineage": plan.lineage}, "config_digest": config_digest,
            "as_of": plan.as_of.isoformat(), "summary": plan.summary, "brakes": list(plan.brakes),
            "warnings": [w.to_json() for w in plan.warnings],
            "changes": [change_to_saved(c) for c in plan.changes], "systems": dict(systems), "sources": dict(sources)}


def _digest(content: Mapping) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def save_plan(path: Path, plan: Plan, config_digest: str, systems: Mapping[str, str],
              sources: Mapping[str, str]) -> SavedPlan:
    from ..state.local import write_atomically

    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    content = _content(plan, config_digest, systems, sources, created, __version__)
    digest = _digest(content)
    write_atomically(Path(path), json.dumps({**content, "digest": digest}, indent=1).encode() + b"\n")
    return SavedPlan(plan, config_digest, __version__, created, systems, sources, digest)


def load_plan(path: Path) -> SavedPlan:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise UserError(f"no saved plan at {path}", code="saved-plan") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not a saved edcconf plan ({exc})", code="saved-plan") from None
    if not isinstance(data, dict) or data.get("format") != SAVED_FORMAT:
        raise UserError(f"{path} is not a saved edcconf plan (make one with edcconf plan --env ENV --out FILE)",
                        code="saved-plan")
    if data.get("format_version") != SAVED_VERSION:
        raise UserError(f"{path} is a saved plan of format {data.get('format_version')!r}; this edcconf reads "
                        f"format {SAVED_VERSION}", code="saved-plan")
    digest = data.pop("digest", None)
    if digest != _digest(data):
        raise UserError(f"{path} was modified after it was saved (its digest does not match); a reviewed plan "
                        "must be applied exactly as saved: plan again", code="saved-plan")
    try:
        warnings = tuple(Diagnostic(w["code"], w["message"], _loc(w.get("source", "")), "warning")
                         for w in data["warnings"])
        plan = Plan(environment=data["environment"], serial=data["state"]["serial"], lineage=data["state"]["lineage"],
                    as_of=date.fromisoformat(data["as_of"]), changes=tuple(change_from_saved(c) for c in data["changes"]),
                    warnings=warnings, brakes=tuple(data.get("brakes") or ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path} is damaged ({exc}); plan again", code="saved-plan") from None
    return SavedPlan(plan, data["config_digest"], data["edcconf_version"], data["created_at"],
                     data.get("systems") or {}, data.get("sources") or {}, digest)


def _loc(source: str) -> Loc:
    path, _, line = source.rpartition(":")
    return Loc(path, int(line)) if path and line.isdigit() else Loc(source)


def check_fresh(saved: SavedPlan, path: Path, serial: int, lineage: str | None, config_digest: str) -> None:
    """Refuse a stale plan, saying what changed since it was made."""
    if saved.edcconf_version != __version__:
        raise UserError(f"{path} was made by edcconf {saved.edcconf_version} and this is {__version__}; "
                        "plan again with this version", code="stale-plan")
    if (serial, lineage) != (saved.plan.serial, saved.plan.lineage):
        what = f"serial {saved.plan.serial} → {serial}"
        if saved.plan.lineage and lineage != saved.plan.lineage:  # a different state altogether
            what += f", lineage {saved.plan.lineage} → {lineage}"
        raise UserError(f"{path} is stale: the state of {saved.plan.environment} moved on since it was planned "
                        f"({what}); plan again and have it reviewed", code="stale-plan")
    if config_digest != saved.config_digest:
        raise UserError(f"{path} is stale: the configuration changed since it was planned (digest "
                        f"{saved.config_digest[:12]} → {config_digest[:12]}); plan again and have it reviewed",
                        code="stale-plan")
