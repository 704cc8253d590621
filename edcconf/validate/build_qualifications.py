"""The qualifications of the model (docs/qualifications.md): the declared ones (`qualifications:`), what
each person holds, what each custom role requires. A pass after build_model's own, over the same files:
only people and roles that say something about qualifications are rebuilt (with dataclasses.replace)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..diagnostics import Diagnostic
from ..model import ALL, HeldQualification, Model, Person, Qualification, Study, frozen_map
from ..rules.qualifications import DEFAULT_NOTIFY_DAYS
from ..source.yamlfile import ParsedFile
from .build import _Node, _Registry, declarations, parse_date


def with_qualifications(model: Model, files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> Model:
    declared = _declared(files, problems)
    people = _held(model, files, problems)
    studies = _required(model, files)
    if not declared and not people and not studies:
        return model
    return replace(
        model,
        qualifications=frozen_map(declared),
        people=frozen_map({**model.people, **people}) if people else model.people,
        studies=frozen_map({**model.studies, **studies}) if studies else model.studies,
    )


def _declared(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, Qualification]:
    out: dict[str, Qualification] = {}
    ids = _Registry("qualification", problems)
    for node in declarations(files, "qualifications"):
        qid = node.get("id")
        if not ids.claim(qid, node, "id"):
            continue
        base_roles: dict[str, Any] = {
            system: roles if roles == ALL else tuple(roles) for system, roles in (node.get("base_roles") or {}).items()
        }
        out[qid] = Qualification(
            qid,
            node.get("name"),
            int(node.get("notify_days", DEFAULT_NOTIFY_DAYS)),
            frozen_map(base_roles),
            node.loc,
            node.locs(),
        )
    return out


def _held(model: Model, files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, Person]:
    """People who declare qualifications, rebuilt with them (the person build_model kept: same Loc)."""
    out: dict[str, Person] = {}
    for group in declarations(files, "group"):
        if not any(isinstance(m, dict) and m.get("qualifications") for m in group.get("members") or ()):
            continue  # (read from the plain values first: positions are unpacked only where needed)
        for member in group.items("members"):
            if not isinstance(member.value, dict) or not member.get("qualifications"):
                continue
            person = model.people.get(member.get("username"))
            if person is None or person.loc != member.loc:
                continue  # a duplicate username: reported by build_model
            held = member.child("qualifications")
            out[person.username] = replace(
                person,
                qualifications=frozen_map(
                    {qid: _held_one(held.child(qid), problems) for qid in held.value},
                ),
            )
    return out


def _held_one(node: _Node, problems: list[Diagnostic]) -> HeldQualification:
    return HeldQualification(parse_date(node, "completed", problems), parse_date(node, "expires", problems), node.loc)


def _required(model: Model, files: tuple[ParsedFile, ...]) -> dict[str, Study]:
    """Studies with a custom role that requires qualifications, their roles rebuilt with `requires`."""
    out: dict[str, Study] = {}
    for node in declarations(tuple(f for f in files if _requires(f.data)), "study"):
        roles = node.get("roles") or {}
        wanted = {rid: tuple(r["requires"]) for rid, r in roles.items() if isinstance(r, dict) and r.get("requires")}
        if not wanted:
            continue
        study = model.studies.get(node.get("id"))
        if study is None or study.loc != node.loc:
            continue  # a duplicate study id: reported by build_model
        out[study.id] = replace(
            study,
            roles=frozen_map(
                {rid: replace(r, requires=wanted[rid]) if rid in wanted else r for rid, r in study.roles.items()}
            ),
        )
    return out


def _requires(data: Any) -> bool:
    """Whether a file declares a study with a role that requires a qualification (plain values only)."""
    if not isinstance(data, dict) or ("study" not in data and "studies" not in data):
        return False
    docs = [data.get("study"), *(data.get("studies") or ())]
    return any(
        isinstance(r, dict) and r.get("requires")
        for d in docs
        if isinstance(d, dict) and isinstance(d.get("roles"), dict)
        for r in d["roles"].values()
    )
