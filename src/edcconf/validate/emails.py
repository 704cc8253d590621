"""E-mails, judged by the systems a person has access to (seeds 001, 003): run once the studies are built.

OpenClinica needs an e-mail for every user and a different one for each ("Each username and email
address in the system must be unique", 001); a Vault user import needs one ("Email is required", 003);
REDCap needs neither. So a person without an e-mail, or two people sharing one (ignoring case), is a
warning, and an error only where a system the person has access to (any grant, any environment)
refuses it.

A shared-email warning says which of the two have access to which OpenClinica studies: the incremental
planner re-reads only changed study files and falls back to a full plan when the other warnings differ,
so an unchanged text means an unchanged verdict. A person-without-email warning needs no such detail:
with OpenClinica or Vault access anywhere it would have been an error, which a full plan never records.
"""
from __future__ import annotations

from ..diagnostics import Diagnostic, Loc, error, warning
from ..model import Model, Person
from .identity import fold, ignoring

NEEDS_EMAIL = {"openclinica": "OpenClinica needs an e-mail for every user (001)",
               "vault": "a Vault user import refuses a row without one: \"Email is required\" (003)"}


def check_emails(model: Model) -> list[Diagnostic]:
    shared: dict[str, list[Person]] = {}
    missing: list[Person] = []
    for person in model.people.values():
        if person.email:
            shared.setdefault(fold(person.email), []).append(person)
        else:
            missing.append(person)
    sharing = [people for people in shared.values() if len(people) > 1]
    if not sharing and not missing:
        return []
    access = _access(model)
    out: list[Diagnostic] = []
    for people in sharing:
        out.extend(_shared(people, access.get("openclinica", {})))
    for person in missing:
        out.extend(_without_email(person, access))
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
                f"{other.username} ({_email_loc(other)}, {ignoring(person.email, other.email) or 'ignoring case'}); "
                "both have access to OpenClinica "
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
            f"({_email_loc(first)}, {ignoring(person.email, first.email) or 'ignoring case'}): REDCap and Vault accept "
            "that, OpenClinica does not (001), and "
            f"{status}; give each their own e-mail before both are granted OpenClinica access",
            _email_loc(person), email=person.email, first=str(_email_loc(first))))
    return out


def _without_email(person: Person, access: dict[str, dict[str, dict[str, Loc]]]) -> list[Diagnostic]:
    out = []
    for system, why in NEEDS_EMAIL.items():
        studies = access.get(system, {}).get(person.username)
        if studies:
            sid = min(studies)
            label = "OpenClinica" if system == "openclinica" else "Vault"
            out.append(error(
                "person-without-email", f"{person.username} has no e-mail and is granted access to {label} "
                f"{'study' if len(studies) == 1 else 'studies'} {_studies(studies)} (at {studies[sid]}); {why}: "
                f"add `email:` to {person.username}",
                person.loc, system=system))
    if not out:
        out.append(warning(
            "person-without-email", f"{person.username} has no e-mail; REDCap accepts that, but OpenClinica and "
            f"Vault need one before {person.username} can be granted access there: add `email:` when it is known",
            person.loc))
    return out
