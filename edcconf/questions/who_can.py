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
    rows = []
    for env_name, env_state in desired.resolution.environments.items():
        if envs and env_name not in envs:
            continue
        state = env_state.state
        for key, grant in sorted(state["grants"].items()):
            if (study and grant["study"] != study) or not usable(grant):
                continue  # a disabled Vault grant (Study Status Disabled, 003) gives no access
            role = state["roles"][grant["role_ref"]]
            match = _matches(question, role)
            if match is None:
                continue
            rows.append(
                {
                    "environment": env_name,
                    "study": grant["study"],
                    "user": grant["user"],
                    "name": state["accounts"][grant["user"]]["name"],
                    "role": grant["role"],
                    "base_role": grant["base_role"],
                    "sites": grant["sites"],
                    "expires": grant["expires"],
                    "has": match,
                    "source": env_state.sources.get(f"grant:{key}"),
                }
            )
        listed = {(r["study"], r["user"]) for r in rows if r["environment"] == env_name}
        for sid, value in sorted(state["studies"].items()):
            if study and sid != study:
                continue
            for admin in value.get("admins", ()):
                if (sid, admin) not in listed:
                    person = model.people[admin]
                    rows.append(
                        {
                            "environment": env_name,
                            "study": sid,
                            "user": admin,
                            "name": person.name,
                            "role": None,
                            "base_role": None,
                            "sites": value.get("sites", []),
                            "expires": person.expires.isoformat() if person.expires else None,
                            "has": "IMPLICIT (admin)",
                            "implicit": IMPLICIT,
                            "reason": IMPLICIT_REASON,
                            "source": str(person.loc),
                        }
                    )
    return {
        "format_version": 1,
        "question": question,
        "study": study,
        "environments": list(envs) or None,
        "as_of": desired.resolution.as_of.isoformat(),
        "people": rows,
    }


def _matches(question: dict, role: dict) -> str | None:
    if question["kind"] == "level":
        level = role["forms"].get(question["form"], "none")
        return level if level_rank(level) >= level_rank(question["level"]) else None
    if question["kind"] == "right":
        value = role["rights"].get(question["right"], "none")
        return (
            value if right_rank(question["right"], value) >= right_rank(question["right"], question["value"]) else None
        )
    forms = role["close_queries" if question["ability"] == "close-queries" else "sdv"]
    if question["form"]:
        return question["form"] if question["form"] in forms else None
    return ", ".join(forms) if forms else None


def render_who_can(doc: dict) -> str:
    if not doc["people"]:
        return "Nobody.\n"
    if doc["question"]["kind"] == "person-ability":
        header = ["user", "name", "group", "has", "declared at"]
        rows = [[r["user"], r["name"], r["group"], r["has"], r["source"] or ""] for r in doc["people"]]
    else:
        header = ["environment", "study", "user", "name", "role", "sites", "has", "granted at"]
        rows = [
            [
                r["environment"],
                r["study"],
                r["user"],
                r["name"],
                r["role"] or "(admin)",
                " ".join(r["sites"]),
                r["has"],
                r["source"] or "",
            ]
            for r in doc["people"]
        ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    text = (
        "\n".join([fmt.format(*header), fmt.format(*["-" * w for w in widths])] + [fmt.format(*r) for r in rows]) + "\n"
    )
    if any(r.get("implicit") for r in doc["people"]):
        text += f"IMPLICIT (admin): {IMPLICIT_REASON}\n"
    if doc.get("cannot"):
        text += (
            "Cannot: "
            + "; ".join(f"{r['user']} (group {r['group']})" for r in doc["cannot"])
            + " — a user who cannot be granted full User Rights cannot create or copy projects (002)\n"
        )
    return text


def who_can_csv(doc: dict) -> str:
    from ..providers.csvfiles import to_csv

    return to_csv(
        ["environment", "study", "user", "name", "role", "base_role", "sites", "expires", "has", "source", "implicit"],
        [
            [
                r["environment"] or "",
                r["study"] or "",
                r["user"],
                r["name"],
                r["role"] or "",
                r["base_role"] or "",
                " ".join(r["sites"]),
                r["expires"] or "",
                r["has"],
                r["source"] or "",
                r.get("implicit") or "",
            ]
            for r in doc["people"]
        ],
    ).decode("utf-8")


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
