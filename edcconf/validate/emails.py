"""E-mails, judged by the systems a person has access to (seeds 001, 003): run once the studies are built.

OpenClinica needs an e-mail for every user and a different one for each ("Each username and email
address in the system must be unique", 001); a Vault user import needs one ("Email is required", 003);
REDCap needs neither. So a person without an e-mail, or two people sharing one (ignoring case), is a
warning, and an error where a system one of them has access to (any grant, any environment) refuses
it.

A shared-email warning says which of the two have access to which OpenClinica studies: the incremental
planner re-reads only changed study files and falls back to a full plan when the other warnings differ,
so an unchanged text means an unchanged verdict. A person-without-email warning needs no such detail:
with OpenClinica or Vault access anywhere it would have been an error, which a full plan never records.
"""

from __future__ import annotations

from ..diagnostics import Diagnostic, Loc, error, warning
from ..identity import fold, ignoring
from ..model import Model, Person

NEEDS_EMAIL = {
    "openclinica": "OpenClinica needs an e-mail for every user (001)",
    "vault": 'a Vault user import refuses a row without one: "Email is required" (003)',
}


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
    """Each person after the first declared names the one they share the e-mail with (the first who has
    OpenClinica access, else the first declared). As soon as one of the two has OpenClinica access it is an
    error: OpenClinica refuses a second account with that e-mail (001) and edcconf cannot tell which of the
    two OpenClinica would hold; between people without OpenClinica access it is a warning."""
    first = people[0]
    with_oc = [p for p in people if p.username in oc]
    out = []
    for person in people[1:]:
        other = with_oc[0] if with_oc and with_oc[0] is not person else first
        having = [p for p in (other, person) if p.username in oc]
        if having:
            listed = "; ".join(f"{p.username}: {_studies(oc[p.username])}" for p in having)
            out.append(
                error(
                    "duplicate-id",
                    f"e-mail {person.email!r} of {person.username} is also the e-mail of "
                    f"{other.username} ({_email_loc(other)}, {ignoring(person.email or '', other.email or '') or 'ignoring case'}), and OpenClinica, which requires a "
                    f"different e-mail for each user (001), is used by {' and '.join(p.username for p in having)} "
                    f"({listed}): give each their own e-mail",
                    _email_loc(person),
                    email=person.email,
                    first=str(_email_loc(other)),
                )
            )
            continue
        out.append(
            warning(
                "shared-email",
                f"{person.username} shares the e-mail {person.email!r} with {first.username} "
                f"({_email_loc(first)}, {ignoring(person.email or '', first.email or '') or 'ignoring case'}): REDCap and Vault accept that, OpenClinica does not (001), and "
                "neither has access to an OpenClinica study; give each their own e-mail before either is granted "
                "OpenClinica access",
                _email_loc(person),
                email=person.email,
                first=str(_email_loc(first)),
            )
        )
    return out


def _without_email(person: Person, access: dict[str, dict[str, dict[str, Loc]]]) -> list[Diagnostic]:
    out = []
    for system, why in NEEDS_EMAIL.items():
        studies = access.get(system, {}).get(person.username)
        if studies:
            sid = min(studies)
            label = "OpenClinica" if system == "openclinica" else "Vault"
            out.append(
                error(
                    "person-without-email",
                    f"{person.username} has no e-mail and is granted access to {label} "
                    f"{'study' if len(studies) == 1 else 'studies'} {_studies(studies)} (at {studies[sid]}); {why}: "
                    f"add `email:` to {person.username}",
                    person.loc,
                    system=system,
                )
            )
    if not out:
        out.append(
            warning(
                "person-without-email",
                f"{person.username} has no e-mail; REDCap accepts that, but OpenClinica and "
                f"Vault need one before {person.username} can be granted access there: add `email:` when it is known",
                person.loc,
            )
        )
    return out
