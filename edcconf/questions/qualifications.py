"""Qualifications in the questions (docs/qualifications.md): the chain `explain` shows for a grant (what
its role requires, where, and what the person holds), and the `who-can --qualification ID` filter."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..diagnostics import UserError, suggest
from ..model import Model, Person, Study
from ..pipeline import Desired
from ..rules import references as references_rules
from ..rules.qualifications import defaults_index, lacking, requirements


def chain(desired: Desired, study: Study, role_id: str, person: Person) -> list[dict[str, Any]]:
    """Each qualification a grant of role_id in study requires: where it is required (a custom role's
    `requires:` or a base role's default, file:line), what the person holds and whether it is valid."""
    model, as_of = desired.model, desired.resolution.as_of
    role = desired.resolution.roles.get((study.id, role_id))
    if role is None or not model.qualifications:
        return []
    out = []
    for req in requirements(model, defaults_index(model), study, role_id, role.base.id):
        held = person.qualifications.get(req.id)
        lack = lacking(person, (req,), as_of)
        q = model.qualifications[req.id]
        out.append(
            {
                "qualification": req.id,
                "name": q.name,
                "required_by": req.by,
                "source": str(req.loc),
                "held": None
                if held is None
                else {
                    "completed": held.completed.isoformat() if held.completed else None,
                    "expires": held.expires.isoformat() if held.expires else None,
                    "source": str(person.qualification_loc(req.id)),
                },
                "valid": lack is None,
                "lacking": None if lack is None else lack[1],
            }
        )
    return out


def holds(person: Person, qid: str, as_of: date) -> bool:
    """Whether the person holds qid, completed and not expired, on as_of."""
    held = person.qualifications.get(qid)
    return (
        held is not None
        and (held.completed is None or held.completed <= as_of)
        and (held.expires is None or held.expires >= as_of)
    )


def known(model: Model, qid: str) -> None:
    if qid not in model.qualifications:
        raise UserError(
            f"unknown qualification {qid!r}{suggest(qid, model.qualifications)}",
            code=references_rules.UNKNOWN_REFERENCE.code,
        )


def only_holders(desired: Desired, doc: dict[str, Any], qid: str) -> dict[str, Any]:
    """A who-can answer keeping only the people who hold qid, valid on its as-of date."""
    model, as_of = desired.model, desired.resolution.as_of
    known(model, qid)

    def keep(row: dict[str, Any]) -> bool:
        person = model.people.get(row["user"])
        return person is not None and holds(person, qid, as_of)

    out = {**doc, "qualification": qid, "people": [r for r in doc["people"] if keep(r)]}
    if "cannot" in doc:
        out["cannot"] = [r for r in doc["cannot"] if keep(r)]
    return out
