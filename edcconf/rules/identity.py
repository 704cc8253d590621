"""People's identities in the systems: e-mails per system (001, 003), OpenClinica's id lengths, and when two
usernames, ids or e-mails are the same one (what every duplicate check compares).

A person who reads `cara@hospital.example.org` cannot see a zero-width space inside it, nor tell a
full-width `ｃａｒａ` from `cara`, nor (in most systems) `Cara` from `cara`; the systems and mail servers
often cannot either. So duplicates are judged on the folded form: compatibility characters made plain
(NFKC: full-width letters and digits, ligatures), format characters removed (zero-width spaces and
joiners, soft hyphens, direction marks, byte-order marks), and case folded.

E-mails, judged by the systems a person has access to (seeds 001, 003): run once the studies are built.

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
from . import references as references_rules
from .book import rule

FAMILY = "identity"

PERSON_WITHOUT_EMAIL = rule(
    "person-without-email",
    family=FAMILY,
    source="001, 003",
    kind="error",
    summary="a person granted access to an OpenClinica study",
    text=(
        "a person granted access to an OpenClinica study (OpenClinica needs an e-mail for every user) or "
        'to a Vault study (Vault\'s user import: "Email is required") has an e-mail; anyone else may leave '
        "it out while it is unknown (an ACG assignment file carries none), with a warning"
    ),
    example=(
        "nora has no e-mail and is granted access to OpenClinica study HEART-01 (at "
        "studies/heart.yaml:23); OpenClinica needs an e-mail for every user (001): add email: to nora"
    ),
)

STUDY_ID_TOO_LONG = rule(
    "study-id-too-long",
    family=FAMILY,
    source="001",
    kind="error",
    summary="study ids have at most 30 characters",
    text="study ids have at most 30 characters",
    example=(
        "study id 'HEART-01-A-VERY-LONG-STUDY-IDENTIFIER' has 36 characters; OpenClinica allows at most 30: shorten it"
    ),
)

SHARED_EMAIL = rule(
    "shared-email",
    family=FAMILY,
    source="001",
    kind="warning",
    summary="two people share an e-mail while neither has OpenClinica access",
    text=(
        "two people share an e-mail (compared folded: ignoring case, full-width and invisible characters) "
        "and neither has access to an OpenClinica study: REDCap and Vault accept a shared e-mail, "
        "OpenClinica requires a different one for each user (as soon as one of them has OpenClinica "
        "access it is `duplicate-id`)"
    ),
    example=(
        "bob shares the e-mail 'lab@hospital.example.org' with ann (groups/lab.yaml:4, ignoring case): "
        "REDCap and Vault accept that, OpenClinica does not (001), and neither has access to an "
        "OpenClinica study; give each their own e-mail before either is granted OpenClinica access"
    ),
)


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
                    references_rules.DUPLICATE_ID.code,
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
                SHARED_EMAIL.code,
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
                    PERSON_WITHOUT_EMAIL.code,
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
                PERSON_WITHOUT_EMAIL.code,
                f"{person.username} has no e-mail; REDCap accepts that, but OpenClinica and "
                f"Vault need one before {person.username} can be granted access there: add `email:` when it is known",
                person.loc,
            )
        )
    return out
