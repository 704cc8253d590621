"""External people: the External User Agreement process (source document 000, "Adding External Users").

One home for the family:
- the declaration rules (rules.external_checks, run by `validate`): a signed agreement date and a basis; basis
  `protocol`: listed on the protocol of every study granting access, requested by a declared PI or Co-PI
  of each of those protocols; basis `non-research`: a business justification, an approving EDC
  administrator and, where a study collects PHI, a reference to the protections in place; basis
  `sponsor`: access that expires, with a warning above the configured maximum length;
- when access starts (`access_starts`): no access before the agreement date;
- who hears of what (`account_notice`, `agreement_notice`): the PI and the requester when the account is
  created (000 step 6), the EDC administrators and the requester when an agreement is recorded (step 4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ..diagnostics import Diagnostic, warning
from ..model import Grant, Model, Person, Study
from .book import rule

FAMILY = "external"

EXTERNAL_WITHOUT_AGREEMENT = rule(
    "external-without-agreement",
    family=FAMILY,
    source="000",
    kind="error",
    summary="an external person has a signed agreement date and a basis",
    text=(
        "an external person has a signed agreement date and a basis (`protocol`, `sponsor` or "
        "`non-research`); access starts on the agreement date, never before (see "
        "`external-access-not-yet`)"
    ),
    example=(
        "external person eve.ext needs a signed agreement date (external.agreement_signed, "
        "external.basis) before any access (000)"
    ),
)

EXTERNAL_ACCESS_NOT_YET = rule(
    "external-access-not-yet",
    family=FAMILY,
    source="000",
    kind="warning",
    summary="an external person whose agreement is dated after the plan's day",
    text=(
        "an external person whose agreement is dated after the plan's day (`--at`, default today) has no "
        "access yet: their grants stay out of the effective state until that day, `explain` says so, and "
        "`plan --at` that day shows them"
    ),
    example=(
        "eve.ext's External User Agreement is dated 2099-01-15: access to EXTRA-03 starts on that day, "
        "not before (000); plan --at 2099-01-15 shows it"
    ),
)

EXTERNAL_NOT_ON_PROTOCOL = rule(
    "external-not-on-protocol",
    family=FAMILY,
    source="000",
    kind="error",
    summary=("an external person with basis `protocol` is listed on the protocol of every study granting them access"),
    text=("an external person with basis `protocol` is listed on the protocol of every study granting them access"),
    example=(
        "external person eve.ext is granted access to EXTRA-03 but is not listed on its protocol; add "
        "them to protocol.staff of EXTRA-03 (000)"
    ),
)

EXTERNAL_REQUESTER_MISSING = rule(
    "external-requester-missing",
    family=FAMILY,
    source="000",
    kind="error",
    summary="an external person with basis `protocol` names who requested the access",
    text=("an external person with basis `protocol` names who requested the access (`external.requested_by`)"),
    example=(
        "external person eve.ext has basis protocol and needs the PI or Co-PI who requested the access "
        "(external.requested_by) (000)"
    ),
)

EXTERNAL_REQUESTER_UNKNOWN = rule(
    "external-requester-unknown",
    family=FAMILY,
    source="000",
    kind="error",
    summary="a named requester (any basis) is a declared person",
    text='a named requester (any basis) is a declared person (with "did you mean")',
    example="eve.ext was requested by vera.vue, who is not declared; did you mean 'vera.view'? ...",
)

EXTERNAL_REQUESTER_NOT_PI = rule(
    "external-requester-not-pi",
    family=FAMILY,
    source="000",
    kind="error",
    summary="for basis `protocol`, the requester is PI or Co-PI on the protocol",
    text=(
        "for basis `protocol`, the requester is PI or Co-PI on the protocol (`protocol: {pi, co_pis}`) of "
        "each study granting the person access; one error per study"
    ),
    example=(
        "eve.ext was requested by vera.view, who is not PI or Co-PI on the protocol of EXTRA-03 (PI "
        "ivan.inv); only they may request access for an external person (000)"
    ),
)

EXTERNAL_JUSTIFICATION_MISSING = rule(
    "external-justification-missing",
    family=FAMILY,
    source="000",
    kind="error",
    summary="basis `non-research` has a business justification",
    text="basis `non-research` has a business justification",
    example=(
        "external person eve.ext has basis non-research and needs a business justification "
        "(external.justification) (000)"
    ),
)

EXTERNAL_APPROVAL_MISSING = rule(
    "external-approval-missing",
    family=FAMILY,
    source="000",
    kind="error",
    summary="basis `non-research` names the EDC administrator who approved the access",
    text=("basis `non-research` names the EDC administrator who approved the access (`external.approved_by`)"),
    example=(
        "external person eve.ext has basis non-research and needs the EDC administrator who approved the "
        "access (external.approved_by) (000)"
    ),
)

EXTERNAL_APPROVER_NOT_ADMIN = rule(
    "external-approver-not-admin",
    family=FAMILY,
    source="000",
    kind="error",
    summary="the approver of non-research access is a declared person of type `admin`",
    text="the approver of non-research access is a declared person of type `admin`",
    example=(
        "eve.ext's non-research access is approved by cara.crc, who is not an EDC administrator (type: "
        "admin); an EDC administrator must approve it (000)"
    ),
)

EXTERNAL_PHI_PROTECTIONS_MISSING = rule(
    "external-phi-protections-missing",
    family=FAMILY,
    source="000",
    kind="error",
    summary=(
        "basis `non-research` on a study that collects PHI references the documentation of the protections in place"
    ),
    text=(
        "basis `non-research` on a study that collects PHI references the documentation of the "
        "protections in place (`external.phi_protections`). A study collects PHI when it says "
        "`collects_phi: true`, or, without `collects_phi:`, when one of its forms has `contact_data: "
        "true`; one error per study"
    ),
    example=(
        "external person eve.ext has non-research access to HEART-01, which collects PHI; reference the "
        "documentation of the protections in place (training, user rights) in external.phi_protections "
        "(000)"
    ),
)

EXTERNAL_SPONSOR_WITHOUT_EXPIRY = rule(
    "external-sponsor-without-expiry",
    family=FAMILY,
    source="000",
    kind="error",
    summary=("a sponsor (basis `sponsor`) granted access has an `expires:` date, on the person or on every grant"),
    text=("a sponsor (basis `sponsor`) granted access has an `expires:` date, on the person or on every grant"),
    example=(
        "sponsor eve.ext is granted access that never expires: HEART-01 (studies/heart.yaml:18); give the "
        "person an expires: date, or every grant one (000)"
    ),
)

EXTERNAL_SPONSOR_ACCESS_LONG = rule(
    "external-sponsor-access-long",
    family=FAMILY,
    source="000",
    kind="warning",
    summary="a sponsor's access lasts longer than `external.sponsor_max_days`",
    text=(
        "a sponsor's access, from the agreement date to the earliest of the person's and the grant's "
        "expiry, lasts at most `external: {sponsor_max_days: N}` days (on the environment; the smallest "
        "of the grant's environments; default 365)"
    ),
    example=(
        "sponsor eve.ext has access to HEART-01 for 730 days (agreement 2026-01-01 to 2027-12-31), more "
        "than the 365 allowed (external.sponsor_max_days of the environment); shorten it or say why in "
        "review (000)"
    ),
)


DEFAULT_SPONSOR_MAX_DAYS = 365  # environment `external: {sponsor_max_days: N}` overrides it


# ---- when access starts, and who is told ----------------------------------------------------------


def access_starts(person: Person) -> date | None:
    """The day an external person's access may start: their agreement date (000: no access before the
    External User Agreement is signed); None for everyone else (and when no date is declared: an error)."""
    return person.external.agreement_signed if person.external is not None else None


def not_yet(person: Person, as_of: date) -> str | None:
    """Why an external person has no access yet on `as_of`, or None when their access may have started."""
    starts = access_starts(person)
    if starts is not None and starts > as_of:
        return f"{person.username}'s External User Agreement takes effect on {starts.isoformat()}: no access before it"
    return None


def not_yet_warning(person: Person, grant: Grant) -> Diagnostic:
    starts = access_starts(person)
    assert starts is not None, "called only for a person whose access has not started"
    return warning(
        EXTERNAL_ACCESS_NOT_YET.code,
        f"{person.username}'s External User Agreement is dated "
        f"{starts.isoformat()}: access to {grant.study} starts on that day, not before (000); "
        f"plan --at {starts.isoformat()} shows it",
        grant.locs.get("user", grant.loc),
    )


def account_notice(person: Person, study: Study) -> tuple[str, ...]:
    """000 step 6: the PI of a study granting access and the requester hear that a new external account
    was created. The one place this rule lives: resolve and the incremental planner both call it."""
    if person.external is None:
        return ()
    pi = study.protocol.pi if study.protocol else None
    return tuple(n for n in (pi, person.external.requested_by) if n)


def admin_accounts(accounts: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """The EDC administrators among the effective accounts: active accounts of type admin."""
    return frozenset(u for u, a in accounts.items() if a.get("type") == "admin" and a.get("status") == "active")


def agreement_notice(
    accounts: Mapping[str, Mapping[str, Any]], username: str, admins: frozenset[str] | None = None
) -> tuple[str, ...]:
    """000 step 4: the EDC administrators (`admin_accounts`) and the requester hear that an external person's
    agreement is recorded; read from the effective accounts (the plan's `after`). A caller asking for many
    accounts passes `admins`, worked out once."""
    account = accounts.get(username) or {}
    if not account.get("external") or not account.get("agreement_signed"):
        return ()
    if admins is None:
        admins = admin_accounts(accounts)
    requester = account.get("requested_by")
    return tuple(sorted(admins | ({requester} if requester else set())))


def collects_phi(study: Study) -> bool:
    """A study collects PHI when it says so (`collects_phi:`); without it, when it has a contact form."""
    if study.collects_phi is not None:
        return study.collects_phi
    return any(form.contact for form in study.forms)


def sponsor_max_days(model: Model, envs: Iterable[str]) -> int:
    """The longest sponsor access the environments allow (`external: {sponsor_max_days}`), the smallest."""
    limits = [
        int(model.environments[e].external.get("sponsor_max_days", DEFAULT_SPONSOR_MAX_DAYS))
        for e in envs
        if e in model.environments
    ]
    return min(limits) if limits else DEFAULT_SPONSOR_MAX_DAYS
