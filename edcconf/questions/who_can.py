"""`who-can`: the reverse question, from the effective state, per environment.

    who-can edit adverse_events --study CARDIO-01 --env production   (a form level or higher)
    who-can --right data_export=full --env production                (a generic right or higher)
    who-can close-queries --study S  /  who-can sdv --study S        (derived abilities, any or --form)
    who-can create-projects                                          (002: needs full User Rights in the ceiling)

People of type admin see every study and may assign themselves any access (001): each question about a
study lists them too, once per study and environment where they are not already listed by a grant,
marked `"implicit": "admin"` (text: `IMPLICIT (admin)`).
"""

from __future__ import annotations

from typing import Any

from ..catalogs import RIGHTS, right_rank
from ..diagnostics import UserError, suggest
from ..model import FORM_LEVELS, level_rank
from ..pipeline import Desired
from ..resolve.effective import usable
from ..rules import commands as commands_rules
from ..rules import references as references_rules
from ..rules.admins import IMPLICIT, IMPLICIT_REASON

ABILITIES = ("close-queries", "sdv")
PERSON_ABILITIES = ("create-projects",)  # of a person (their group's ceiling), not of a grant


def parse_question(words: tuple[str, ...], right: str | None) -> dict:
    if right:
        name, _, value = right.partition("=")
        if name not in RIGHTS:
            raise UserError(f"unknown right {name!r}{suggest(name, RIGHTS)}", code=commands_rules.USAGE.code)
        if value not in RIGHTS[name]:
            raise UserError(f"{name} takes one of {', '.join(RIGHTS[name])}", code=commands_rules.USAGE.code)
        return {"kind": "right", "right": name, "value": value}
    if words and words[0] in PERSON_ABILITIES:
        return {"kind": "person-ability", "ability": words[0]}
    if words and words[0] in ABILITIES:
        return {"kind": "ability", "ability": words[0], "form": words[1] if len(words) > 1 else None}
    if len(words) == 2 and words[0] in FORM_LEVELS[1:]:
        return {"kind": "level", "level": words[0], "form": words[1]}
    raise UserError(
        "ask `who-can LEVEL FORM --study S` (LEVEL: read, review, edit), `who-can close-queries|sdv "
        "[FORM] --study S`, `who-can create-projects`, or `who-can --right NAME=VALUE`",
        code=commands_rules.USAGE.code,
    )


def who_can(desired: Desired, question: dict, study: str | None, envs: tuple[str, ...]) -> dict:
    model = desired.model
    if study and study not in model.studies:
        raise UserError(
            f"unknown study {study!r}{suggest(study, model.studies)}", code=references_rules.UNKNOWN_REFERENCE.code
        )
    if question["kind"] == "person-ability":
        return _create_projects(desired, question)
    if question["kind"] != "right" and not study:
        raise UserError("a form or an ability belongs to a study: add --study", code=commands_rules.USAGE.code)
    form = question.get("form")
    # a form comes only with ability and level questions, which need --study (above): study is set
    if form and study is not None and form not in {f.id for f in model.studies[study].forms}:
        raise UserError(
            f"unknown form {form!r} in {study}{suggest(form, [f.id for f in model.studies[study].forms])}",
            code=references_rules.UNKNOWN_REFERENCE.code,
        )
    graph = desired.resolution.graph
    reached = _reaching(graph, question, study)
    rows: list[dict[str, Any]] = []
    for env_name in graph.graph["environments"]:
        if envs and env_name not in envs:
            continue
        here = sorted(
            (
                (edge["grant"], user, role, edge, has)
                for user, role, edge, has in reached
                # a disabled Vault grant (Study Status Disabled, 003) is on record there but gives no access
                if env_name in edge["grants"] and usable(edge["grants"][env_name])
            ),
            key=lambda found: found[0],  # by grant key, as the state lists them
        )
        for _, user, role, edge, has in here:
            grant = edge["grants"][env_name]
            rows.append(
                {
                    "environment": env_name,
                    "study": edge["study"],
                    "user": user,
                    "name": graph.nodes[("person", user)]["full_name"],
                    "role": edge["role"],
                    "base_role": graph.nodes[role]["base_role"],
                    "sites": grant["sites"],
                    "expires": grant["expires"],
                    "has": has,
                    "source": edge["source"],
                }
            )
        listed = {(r["study"], r["user"]) for r in rows if r["environment"] == env_name}
        rows.extend(_implicit(graph, env_name, [study] if study else sorted(model.studies), listed))
    return {
        "format_version": 1,
        "question": question,
        "study": study,
        "environments": list(envs) or None,
        "as_of": desired.resolution.as_of.isoformat(),
        "people": rows,
    }


def _reaching(graph, question: dict, study: str | None) -> list[tuple[str, tuple, dict, str]]:
    """Every (user, role node, granted edge, what they have) whose path reaches what the question asks for:
    person -granted-> role -level-> form (the level, or the derived ability, on the edge), or a role whose
    generic rights are high enough; the environments are the granted edge's (filtered by the caller)."""
    roles: list[tuple[tuple, str]] = []  # (role node, what it has)
    if question["kind"] == "right":
        name, wanted = question["right"], right_rank(question["right"], question["value"])
        studies = [study] if study else list(graph.graph["roles_of_study"])
        for role in (r for sid in studies for r in graph.graph["roles_of_study"].get(sid, ())):
            value = graph.nodes[role]["rights"].get(name, "none")
            if right_rank(name, value) >= wanted:
                roles.append((role, value))
    elif question["kind"] == "level" or question["form"]:
        form = ("form", f"{study}/{question['form']}")
        ability = None if question["kind"] == "level" else _FLAG[question["ability"]]
        for role, _, d in graph.in_edges(form, data=True) if form in graph else ():
            if d["kind"] != "level":
                continue
            if ability is None and level_rank(d["level"]) >= level_rank(question["level"]):
                roles.append((role, d["level"]))
            elif ability is not None and d[ability]:
                roles.append((role, question["form"]))
    else:
        flag, prefix = _FLAG[question["ability"]], len(f"{study}/")
        for role in graph.graph["roles_of_study"].get(study, ()):
            forms = [f[1][prefix:] for _, f, d in graph.out_edges(role, data=True) if d["kind"] == "level" and d[flag]]
            if forms:
                roles.append((role, ", ".join(forms)))
    return [
        (person[1], role, d, has)
        for role, has in roles
        for person, _, d in graph.in_edges(role, data=True)
        if d["kind"] == "granted"
    ]


_FLAG = {"close-queries": "close_queries", "sdv": "sdv"}


def _implicit(graph, env: str, studies: list[str], listed: set) -> list[dict[str, Any]]:
    """001: the admins of each study (their `admin_of` edges in this environment) not listed by a grant."""
    rows: list[dict[str, Any]] = []
    for sid in studies:
        node = ("study", sid)
        for person, _, d in graph.in_edges(node, data=True) if node in graph else ():
            if d["kind"] != "admin_of" or env not in d["environments"] or (sid, person[1]) in listed:
                continue
            who = graph.nodes[person]
            rows.append(
                {
                    "environment": env,
                    "study": sid,
                    "user": person[1],
                    "name": who["full_name"],
                    "role": None,
                    "base_role": None,
                    "sites": d["sites"],
                    "expires": who["expires"],
                    "has": "IMPLICIT (admin)",
                    "implicit": IMPLICIT,
                    "reason": IMPLICIT_REASON,
                    "source": d["source"],
                }
            )
    return rows


def _create_projects(desired: Desired, question: dict) -> dict:
    """002: who may create (or copy) projects: the people whose group's ceiling allows full User Rights.
    Those who may not are listed under `cannot`, each with the reason."""
    from ..rules.ceiling_values import create_projects, group_ceiling

    model = desired.model
    rows: list[dict[str, Any]] = []
    cannot: list[dict[str, Any]] = []
    for person in sorted(model.people.values(), key=lambda p: p.username):
        if person.status != "active" or person.expired(desired.resolution.as_of):
            continue
        group = model.groups.get(person.group)
        may, why = create_projects(group_ceiling(group)) if group else (False, "in no group")
        row: dict[str, Any] = {
            "environment": None,
            "study": None,
            "user": person.username,
            "name": person.name,
            "role": None,
            "base_role": None,
            "sites": [],
            "expires": person.expires.isoformat() if person.expires else None,
            "has": "create_projects" if may else None,
            "group": person.group,
            "reason": why,
            "source": str(group.loc) if group else str(person.loc),
        }
        (rows if may else cannot).append(row)
    return {
        "format_version": 1,
        "question": question,
        "study": None,
        "environments": None,
        "as_of": desired.resolution.as_of.isoformat(),
        "people": rows,
        "cannot": cannot,
    }
