"""Separation-of-duties policies (`access_policies:`, docs/policies.md): the codes of their violations,
and the check that every role, tag and right a policy names exists (fail closed: a policy that names
nothing real would never fire).

A violation is an error, or a warning when its policy says `enforcement: warn`. The evaluation itself
runs per environment on the effective state (resolve.access_policies); what is judged here needs only the
model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..catalogs import RIGHTS, SYSTEMS, catalog
from ..diagnostics import Diagnostic, Loc, error, suggest, warning
from ..model import AccessPolicy, Study
from .book import rule
from .references import UNKNOWN_REFERENCE

FAMILY = "access_policies"

_WARN = " A policy declared `enforcement: warn` reports it as a warning instead of an error."

POLICY_EXCLUSIVE = rule(
    "policy-exclusive",
    family=FAMILY,
    source="edcconf",
    kind="error",
    summary="nobody holds two of an `exclusive` policy's roles or tags in one study (or at one site)",
    text=(
        "an `exclusive` policy lists roles (a grant's role id or its base role) or form tags (held where a "
        "role gives a level above none on a form with the tag) of which a person may hold only one in a "
        "study, or with `scope: site` only one at each site; the error is at one grant and names the other "
        "grant and the policy." + _WARN
    ),
    example=(
        "li.wei holds tag unblinded (studies/cardio-01.yaml:24) and tag blinded (studies/cardio-01.yaml:25) "
        "in CARDIO-01: policy blinding (policies/sod.yaml:4) makes them exclusive in one study"
    ),
)
POLICY_MAX_HOLDERS = rule(
    "policy-max-holders",
    family=FAMILY,
    source="edcconf",
    kind="error",
    summary="no more people hold a right in a study than a `max_holders` policy allows",
    text=(
        "a `max_holders` policy allows at most `max` people to hold a generic right (at `at_least` or "
        "above) in one study; the error is at the first grant beyond the limit and names the others." + _WARN
    ),
    example=(
        "3 people hold user_rights (at least read) in CARDIO-01, policy user-admins (policies/sod.yaml:9) "
        "allows 2: jane.doe (studies/cardio-01.yaml:22), dina.park (studies/cardio-01.yaml:28), "
        "tom.hart (studies/cardio-01.yaml:30)"
    ),
)
POLICY_REQUIRES = rule(
    "policy-requires",
    family=FAMILY,
    source="edcconf",
    kind="error",
    summary="whoever holds a right named by a `requires` policy holds the right it requires in that study",
    text=(
        "a `requires` policy says that whoever holds `right` (at `at_least` or above) in a study holds "
        "`requires` there too, through any of their grants in the study; the error is at the grant that "
        "gives the first right." + _WARN
    ),
    example=(
        "tom.hart holds data_import (studies/diab-03.yaml:30) in DIAB-03 without form_access: policy "
        "import-needs-access (policies/sod.yaml:14) requires it"
    ),
)
POLICY_REQUESTER_APPROVER = rule(
    "policy-requester-approver",
    family=FAMILY,
    source="edcconf",
    kind="error",
    summary="an external person's access is not requested and approved by the same person, nor by themselves",
    text=(
        "a `requester_not_approver` policy checks every active external person: `external.requested_by` "
        "and `external.approved_by` name two different people, and neither names the person themselves; "
        "the error is at one of the two and names the other." + _WARN
    ),
    example=(
        "ext.auditor's access was requested (groups/monitors.yaml:12) and approved "
        "(groups/monitors.yaml:13) by the same person, edc.admin: policy four-eyes (policies/sod.yaml:20)"
    ),
)

KIND_CODES = {  # each kind's code
    "exclusive": POLICY_EXCLUSIVE.code,
    "max_holders": POLICY_MAX_HOLDERS.code,
    "requires": POLICY_REQUIRES.code,
    "requester_not_approver": POLICY_REQUESTER_APPROVER.code,
}


def violation(policy: AccessPolicy, message: str, loc: Loc) -> Diagnostic:
    """A violation of a policy: an error, or a warning when the policy is enforced as `warn`."""
    code = KIND_CODES[policy.kind]
    said = f": {policy.description}" if policy.description else ""
    text = f"{message} (policy {policy.id} at {policy.loc}{said})"
    return warning(code, text, loc) if policy.enforcement == "warn" else error(code, text, loc)


def base_role_ids() -> frozenset[str]:
    """Every base role of every system's catalog."""
    out: set[str] = set()
    for system in SYSTEMS:
        cat = catalog(system)
        if cat is not None:
            out.update(cat.roles)
    return frozenset(out)


def check_policy_names(policies: Iterable[AccessPolicy], studies: Mapping[str, Study]) -> list[Diagnostic]:
    """Every role, tag, right and value a policy names exists. Roles: a base role of a catalog or a custom
    role of some study; tags: a tag some study declares. (Study names are filters, never an error: a
    study may be added later, and the incremental planner validates one study file at a time.)"""
    out: list[Diagnostic] = []
    policies = tuple(policies)
    if not policies:
        return out
    roles = set(base_role_ids()) | {rid for s in studies.values() for rid in s.roles}
    tags = {t for s in studies.values() for t in s.tags}

    def unknown(policy: AccessPolicy, field: str, what: str, name: str, known: Iterable[str]) -> None:
        out.append(
            error(
                UNKNOWN_REFERENCE.code,
                f"policy {policy.id} names unknown {what} {name!r}{suggest(name, list(known))}",
                policy.locs.get(field, policy.loc),
            )
        )

    for p in policies:
        for name in p.roles:
            if name not in roles:
                unknown(p, "roles", "role", name, roles)
        for name in p.tags:
            if name not in tags:
                unknown(p, "tags", "tag", name, tags)
        for field, right in (("right", p.right), ("requires", p.requires)):
            if right is not None and right not in RIGHTS:
                unknown(p, field, "right", right, RIGHTS)
        if p.right is not None and p.right in RIGHTS and p.at_least is not None:
            above_none = RIGHTS[p.right][1:]
            if p.at_least not in above_none:
                unknown(p, "at_least", f"value of {p.right}", p.at_least, above_none)
    return out


__all__ = ["KIND_CODES", "POLICY_EXCLUSIVE", "POLICY_MAX_HOLDERS", "POLICY_REQUIRES", "POLICY_REQUESTER_APPROVER"]
