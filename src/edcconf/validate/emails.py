"""E-mails, judged by the systems a person has access to (seed 001): run once the studies are built.

OpenClinica needs a different e-mail for each user ("Each username and email address in the system must
be unique", 001); REDCap and Vault accept a shared one. So two people sharing one (ignoring case) is a
warning, and an error only when both have access to an OpenClinica study (any grant, any environment).

Each warning says which of the people it names have access to which OpenClinica studies: a warning
whose text is unchanged then means the same for every file the incremental planner did not re-read.
"""
from __future__ import annotations

from ..diagnostics import Diagnostic, Loc, error, warning
from ..model import Model, Person

NEEDS_EMAIL = {"openclinica": "OpenClinica needs an e-mail for every user (001)"}


def check_emails(model: Model) -> list[Diagnostic]:
    shared: dict[str, list[Person]] = {}
    for person in model.people.values():
        shared.setdefault(person.email.casefold(), []).append(person)
    sharing = [people for people in shared.values() if len(people) > 1]
    if not sharing:
        return []
    access = _access(model)
    out: list[Diagnostic] = []
    for people in sharing:
        out.extend(_shared(people, access.get("openclinica", {})))
    return out


def _access(model: Model) -> dict[str, dict[str, dict[str, Loc]]]:
    """system -> username -> study -> where the first grant of that study to them is written."""
    out: dict[str, dict[str, dict[str, Loc]]] = {}
    for study in model.studies.values():
        if study.system not in NEEDS_EMAIL:
            continue
        by_user = out.setdefault(study.system, {})
        for grant in study.access:
            by_user.setdefault(grant.user, {}).setdefault(study.id, grant.locs.get("user", grant.loc))
    return out


def _email_loc(person: Person) -> Loc:
    return person.locs.get("email", person.loc)


def _studies(studies: dict[str, Loc]) -> str:
    return ", ".join(sorted(studies))


def _shared(people: list[Person], oc: dict[str, dict[str, Loc]]) -> list[Diagnostic]:
    """The first person declared is named by the others; two with OpenClinica access are an error."""
    first = people[0]
    with_oc = [p for p in people if p.username in oc]
    out = []
    for person in people[1:]:
        if person.username in oc and person is not with_oc[0]:
            other = with_oc[0]
            out.append(error(
                "duplicate-id", f"e-mail {person.email!r} of {person.username} is also the e-mail of "
                f"{other.username} ({_email_loc(other)}, ignoring case); both have access to OpenClinica "
                f"({other.username}: {_studies(oc[other.username])}; {person.username}: "
                f"{_studies(oc[person.username])}), which requires a different e-mail for each user (001): give "
                "each their own e-mail", _email_loc(person), email=person.email, first=str(_email_loc(other))))
            continue
        having = [p for p in (first, person) if p.username in oc]
        status = ("neither has access to an OpenClinica study" if not having else
                  f"only {having[0].username} has access to an OpenClinica study "
                  f"({_studies(oc[having[0].username])})")
        out.append(warning(
            "shared-email", f"{person.username} shares the e-mail {person.email!r} with {first.username} "
            f"({_email_loc(first)}, ignoring case): REDCap and Vault accept that, OpenClinica does not (001), and "
            f"{status}; give each their own e-mail before both are granted OpenClinica access",
            _email_loc(person), email=person.email, first=str(_email_loc(first))))
    return out

