"""External people: the External User Agreement process (source document 000, "Adding External Users").

One home for the family:
- the declaration rules (`check_external`, run by `validate`): a signed agreement date and a basis; basis
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

from ..diagnostics import Diagnostic, Loc, error, suggest, warning
from ..model import ALL, External, Grant, Model, Person, Study

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
        "external-access-not-yet",
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


def agreement_notice(accounts: Mapping[str, Mapping[str, Any]], username: str) -> tuple[str, ...]:
    """000 step 4: the EDC administrators (active accounts of type admin) and the requester hear that an
    external person's agreement is recorded; read from the effective accounts (the plan's `after`)."""
    account = accounts.get(username) or {}
    if not account.get("external") or not account.get("agreement_signed"):
        return ()
    admins = {u for u, a in accounts.items() if a.get("type") == "admin" and a.get("status") == "active"}
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


# ---- the declaration rules --------------------------------------------------------------------------


def check_external(model: Model) -> list[Diagnostic]:
    externals = [p for p in model.people.values() if p.external is not None]
    if not externals:
        return []
    wanted = {p.username for p in externals}
    granted: dict[str, list[tuple[Study, Grant]]] = {}
    for study in model.studies.values():
        for grant in study.access:
            if grant.user in wanted:
                granted.setdefault(grant.user, []).append((study, grant))
    out: list[Diagnostic] = []
    for person in externals:
        ext, grants = _external(person), granted.get(person.username, [])
        if ext.agreement_signed is None or ext.basis is None:
            missing = " and ".join(
                w for w, v in (("a signed agreement date", ext.agreement_signed), ("a basis", ext.basis)) if v is None
            )
            out.append(
                error(
                    "external-without-agreement",
                    f"external person {person.username} needs {missing} "
                    "(external.agreement_signed, external.basis) before any access (000)",
                    ext.loc,
                )
            )
        out.extend(_requester(model, person, grants))
        if ext.basis == "protocol":
            out.extend(_on_protocol(person, grants))
        elif ext.basis == "non-research":
            out.extend(_non_research(model, person, grants))
        elif ext.basis == "sponsor":
            out.extend(_sponsor(model, person, grants))
    return out


def _external(person: Person) -> External:
    """The external block of a person these rules are about (they are only called for external people)."""
    assert person.external is not None, f"{person.username} is not external"
    return person.external


def _studies(grants: list[tuple[Study, Grant]]) -> list[Study]:
    """The studies granting access, each once, in the order of their first grant."""
    return list({study.id: study for study, _ in grants}.values())


def _at(person: Person, key: str) -> Loc:
    return _external(person).locs.get(key, _external(person).loc)


def _requester(model: Model, person: Person, grants: list[tuple[Study, Grant]]) -> list[Diagnostic]:
    """000: the faculty requesting access for an external person must be a PI or Co-PI on the approved
    protocol (checked for basis protocol on every study granting access); a named requester is declared."""
    ext, out = _external(person), []
    requester = ext.requested_by
    if requester is None:
        if ext.basis == "protocol":
            out.append(
                error(
                    "external-requester-missing",
                    f"external person {person.username} has basis protocol "
                    "and needs the PI or Co-PI who requested the access (external.requested_by) (000)",
                    ext.loc,
                )
            )
        return out
    if requester not in model.people:
        out.append(
            error(
                "external-requester-unknown",
                f"{person.username} was requested by {requester}, who is "
                f"not declared{suggest(requester, model.people)}; the requester must be a declared person, "
                "a PI or Co-PI of the study's protocol (000)",
                _at(person, "requested_by"),
            )
        )
        return out
    if ext.basis != "protocol":
        return out
    for study in _studies(grants):
        p = study.protocol
        if p is not None and requester not in (p.pi, *p.co_pis):
            out.append(
                error(
                    "external-requester-not-pi",
                    f"{person.username} was requested by {requester}, who is "
                    f"not PI or Co-PI on the protocol of {study.id} (PI {p.pi or 'none'}"
                    f"{', Co-PIs ' + ', '.join(p.co_pis) if p.co_pis else ''}); only they may request "
                    f"access for an external person (000)",
                    _at(person, "requested_by"),
                )
            )
    return out


def _on_protocol(person: Person, grants: list[tuple[Study, Grant]]) -> list[Diagnostic]:
    out = []
    for study, grant in grants:
        p = study.protocol
        if p is None or person.username not in (p.pi, *p.co_pis, *p.staff):
            out.append(
                error(
                    "external-not-on-protocol",
                    f"external person {person.username} is granted "
                    f"access to {study.id} but is not listed on its protocol; add them to "
                    f"protocol.staff of {study.id} (000)",
                    grant.locs.get("user", grant.loc),
                )
            )
    return out


def _non_research(model: Model, person: Person, grants: list[tuple[Study, Grant]]) -> list[Diagnostic]:
    """000: non-research access (e.g. QI) needs a business justification, the approval of an EDC System
    Administrator and, where PHI is collected, documentation of the protections in place."""
    ext, out = _external(person), []
    if not (ext.justification or "").strip():
        out.append(
            error(
                "external-justification-missing",
                f"external person {person.username} has basis "
                "non-research and needs a business justification (external.justification) (000)",
                ext.loc,
            )
        )
    approver = ext.approved_by
    if approver is None:
        out.append(
            error(
                "external-approval-missing",
                f"external person {person.username} has basis non-research "
                "and needs the EDC administrator who approved the access (external.approved_by) (000)",
                ext.loc,
            )
        )
    else:
        who = model.people.get(approver)
        if who is None or who.type != "admin":
            what = "is not declared" if who is None else "is not an EDC administrator (type: admin)"
            out.append(
                error(
                    "external-approver-not-admin",
                    f"{person.username}'s non-research access is approved "
                    f"by {approver}, who {what}; an EDC administrator must approve it (000)",
                    _at(person, "approved_by"),
                )
            )
    if not (ext.phi_protections or "").strip():
        for study in _studies(grants):
            if collects_phi(study):
                out.append(
                    error(
                        "external-phi-protections-missing",
                        f"external person {person.username} has "
                        f"non-research access to {study.id}, which collects PHI; reference the "
                        "documentation of the protections in place (training, user rights) in "
                        "external.phi_protections (000)",
                        ext.loc,
                    )
                )
    return out


def _sponsor(model: Model, person: Person, grants: list[tuple[Study, Grant]]) -> list[Diagnostic]:
    """000: sponsors get access for a purpose (a site visit, an audit): it expires."""
    out = []
    open_ended = [(s, g) for s, g in grants if g.expires is None] if person.expires is None else []
    if open_ended:
        where = ", ".join(f"{s.id} ({g.loc})" for s, g in open_ended)
        out.append(
            error(
                "external-sponsor-without-expiry",
                f"sponsor {person.username} is granted access that "
                f"never expires: {where}; give the person an expires: date, or every grant one (000)",
                _external(person).loc,
            )
        )
        return out
    start = _external(person).agreement_signed
    if start is None:
        return out
    for study, grant in grants:
        ends = [d for d in (person.expires, grant.expires) if d is not None]
        days = (min(ends) - start).days
        envs = study.environments if grant.environments == ALL else grant.environments
        limit = sponsor_max_days(model, envs)
        if days > limit:
            loc = (
                grant.locs.get("expires", grant.loc)
                if grant.expires is not None and grant.expires == min(ends)
                else person.locs.get("expires", person.loc)
            )
            out.append(
                warning(
                    "external-sponsor-access-long",
                    f"sponsor {person.username} has access to {study.id} "
                    f"for {days} days (agreement {start.isoformat()} to {min(ends).isoformat()}), more "
                    f"than the {limit} allowed (external.sponsor_max_days of the environment); "
                    "shorten it or say why in review (000)",
                    loc,
                )
            )
    return out
