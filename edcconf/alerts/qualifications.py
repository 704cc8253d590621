"""Reminders before a qualification expires (docs/qualifications.md), through the alert templates.

`compliance alert --qualifications`: for each applied grant of the environment whose role requires a
qualification its person holds until a day within that qualification's `notify_days` of the as-of date,
the person is told (`user_qualification_expiration`) and so is the study's PI
(`pi_qualification_expiration`), each once per person, study and qualification. Nobody is told again
about the same person and study within the reminder interval (alerts.reminder_interval_days), read
from the same alert log as the compliance alerts, whose intervals these reminders do not touch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

from ..model import Model
from ..rules.qualifications import Requirement, defaults_index, requirements
from ..state import StateRecord
from . import DEFAULT_INTERVAL_DAYS, Alert, AlertRun, _person, placeholder_values
from .log import last_told, read_log
from .templates import QUALIFICATION_KINDS, Templates


def expiring_grants(model: Model, applied: StateRecord, as_of: date) -> dict[tuple[str, str], dict[str, date]]:
    """(user, study) -> {qualification: its last valid day} for the applied grants whose role requires a
    qualification that expires within its notify_days of as_of (and has not expired yet)."""
    index = defaults_index(model)
    needs: dict[tuple[str, str], tuple[Requirement, ...]] = {}
    out: dict[tuple[str, str], dict[str, date]] = {}
    for grant in applied.effective.get("grants", {}).values():
        person, study = model.people.get(grant["user"]), model.studies.get(grant["study"])
        if person is None or study is None or person.status != "active" or person.expired(as_of):
            continue
        key = (study.id, grant["role"])
        if key not in needs:
            needs[key] = requirements(model, index, study, grant["role"], grant.get("base_role") or "")
        for req in needs[key]:
            held = person.qualifications.get(req.id)
            notify = model.qualifications[req.id].notify_days
            if held is not None and held.expires is not None and as_of <= held.expires <= as_of + timedelta(notify):
                out.setdefault((person.username, study.id), {})[req.id] = held.expires
    return out


def compose_qualifications(
    root: Path, model: Model, applied: StateRecord, templates: Templates, as_of: date, settings: Mapping
) -> AlertRun:
    env = applied.environment
    interval = int(settings.get("reminder_interval_days", DEFAULT_INTERVAL_DAYS))
    run = AlertRun(env, as_of, interval)
    told = last_told(e for e in read_log(root, env) if e.get("kind") in QUALIFICATION_KINDS)
    studies = applied.effective.get("studies", {})
    for (user, sid), found in sorted(expiring_grants(model, applied, as_of).items()):
        last = told.get((user, sid))
        if last is not None and (as_of - last).days < interval:
            run.skipped.append(
                {"user": user, "study": sid, "last": last.isoformat(), "next": (last + timedelta(interval)).isoformat()}
            )
            continue
        title = studies.get(sid, {}).get("name") or sid
        person = {**_person(model, applied, user), "rights": []}
        protocol = model.studies[sid].protocol
        pi = protocol.pi if protocol is not None and protocol.pi in model.people and protocol.pi != user else None
        for qid, expires in sorted(found.items()):
            until = expires.isoformat()
            q = model.qualifications[qid]
            about = {"id": qid, "name": q.name, "expires": until}
            for kind, to in (("user_qualification_expiration", user), ("pi_qualification_expiration", pi)):
                if to is None:
                    continue
                recipient = person if to == user else _person(model, applied, to)
                values = placeholder_values(kind, sid, title, env, recipient, [person], until)
                subject, body = templates.render(kind, {**values, "qualification": about})
                run.alerts.append(Alert(kind, sid, (user,), to, recipient["email"], subject, body, until))
    return run
