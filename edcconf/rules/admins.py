"""Admins (OpenClinica 4 user types, 001).

A person of type `admin` "can see all studies" of the test and production environments and "can assign
him/herself access to any study": `explain` and `who-can` show that implicit access beside the grants
(marked `implicit: admin`), and the effective state lists each study's admins. Because admins have access
to everything, 001 asks that the type be "assigned sparingly": `validate` warns (`too-many-admins`) when
more active admins are declared than the organisation's `policy: {max_admins: N}` accepts (default 5).
Site users are never admins (`admin-site-grant`, rules/policy.py).
"""

from __future__ import annotations

from datetime import date
from typing import cast

from ..diagnostics import Diagnostic, warning
from ..model import Model
from .book import rule

FAMILY = "admins"

ADMIN_SITE_GRANT = rule(
    "admin-site-grant",
    family=FAMILY,
    source="001",
    kind="error",
    summary="a person of type `admin` is never granted site-level access",
    text="a person of type `admin` is never granted site-level access",
    example=(
        "adam.admin is an admin and cannot be granted site-level access; site users are never Admin "
        "(001): make the person a user, or grant the whole study"
    ),
)

TOO_MANY_ADMINS = rule(
    "too-many-admins",
    family=FAMILY,
    source="001",
    kind="warning",
    summary="more active admins than `policy.max_admins` (default 5)",
    text=(
        "more active (not deactivated, not expired) people of type `admin` than the organisation's "
        "`policy: {max_admins: N}` accepts (default 5; `policy:` is declared once, in any file, e.g. "
        "`environments/policy.yaml`): an admin sees every study and may give themselves access to any, so "
        "OpenClinica asks that the type be assigned sparingly. Points at the `policy:` declaration, or "
        "without one at the first admin over the limit"
    ),
    example=(
        "6 active people are admins (a1, a2, a3, a4, a5, a6) and the default of policy.max_admins is 5: "
        "an admin sees every study, so OpenClinica asks that the type be assigned sparingly (001); make "
        "the others users with grants, or raise policy.max_admins"
    ),
)


DEFAULT_MAX_ADMINS = 5
IMPLICIT = "admin"
IMPLICIT_REASON = "admin: sees every study and may assign themselves access to any of them (001)"


def active_admins(model: Model, as_of: date) -> list[str]:
    return sorted(
        p.username for p in model.people.values() if p.type == "admin" and p.status == "active" and not p.expired(as_of)
    )


def check_admins(model: Model, as_of: date) -> list[Diagnostic]:
    limit = cast(int, model.policy.get("max_admins", DEFAULT_MAX_ADMINS))  # an integer: the schema says so
    admins = active_admins(model, as_of)
    if len(admins) <= limit:
        return []
    where = model.policy_loc if model.policy_loc is not None else model.people[admins[limit]].loc
    setting = (
        f"policy.max_admins is {limit}"
        if "max_admins" in model.policy
        else f"the default of policy.max_admins is {limit}"
    )
    return [
        warning(
            TOO_MANY_ADMINS.code,
            f"{len(admins)} active people are admins ({', '.join(admins)}) and {setting}: "
            "an admin sees every study, so OpenClinica asks that the type be assigned sparingly (001); make "
            "the others users with grants, or raise policy.max_admins",
            where,
            admins=admins,
            limit=limit,
        )
    ]
