"""Institutional policy on roles and studies (001, 003): role levels, sites before access, admins never at
sites, study id length, and the forms whose queries a role cannot see.

These rules hold whatever the environment (docs/rules.md); `check_policy` also runs the external-user
process (000, rules.external) and the participant ID templates (rules.openclinica). Rules that need
effective rights are judged by rules.ceilings (`over_ceiling`, `exceeded`), on the rights resolve
computes; at assignment by the plan (`at_assignment`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ..catalogs import Catalog, catalog
from ..diagnostics import Diagnostic, error, warning
from ..model import ALL, Model, Study
from . import admins as admins_rules
from . import identity as identity_rules
from .book import rule
from .external_checks import check_external
from .openclinica import check_participant_id_template

if TYPE_CHECKING:  # resolve imports the rules: only the type from there
    from ..resolve.roles import EffectiveRole

FAMILY = "policy"

ROLE_LEVEL = rule(
    "role-level",
    family=FAMILY,
    source="001, 003, docs/catalogs.md",
    kind="error",
    summary="site-only roles (CRC, Investigator) are not granted study-wide",
    text=(
        "site-only roles (CRC, Investigator) are not granted study-wide; study-only roles (Data Manager, "
        "Data Specialist) are not granted on listed sites (Vault: by country is study-level access too)"
    ),
    example=(
        "crc is a site-level role and cannot be granted on all sites of EXTRA-03; list the sites, or use "
        "a study-level role such as data_entry or monitor"
    ),
)

STUDY_WITHOUT_SITES = rule(
    "study-without-sites",
    family=FAMILY,
    source="001",
    kind="error",
    summary="a study has at least one site before anyone is granted access",
    text="a study has at least one site before anyone is granted access",
    example=(
        "study EXTRA-03 grants access but has no sites; add at least one site before anyone is granted access (001)"
    ),
)

QUERIES_HIDDEN = rule(
    "queries-hidden",
    family=FAMILY,
    source="001",
    kind="warning",
    summary="a role that may close queries has no access to a form",
    text=(
        "a role that may close queries (Monitor, Data Manager, …) has no access to a form: its holders "
        "cannot see that form's queries"
    ),
    example=(
        "in test, role data_manager (Data Manager) in HEART-01 has no access to adverse_events: dina.dm "
        "cannot see or close queries on that form"
    ),
)


MAX_STUDY_ID = 30  # 001: "The Study ID field has a limit of 30 characters"


def check_policy(model: Model) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for study in model.studies.values():
        out.extend(_study_rules(study))
        out.extend(_grant_rules(model, study))
    out.extend(check_external(model))  # 000: the external-user process
    return out


def _study_rules(study: Study) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if len(study.id) > MAX_STUDY_ID:
        out.append(
            error(
                identity_rules.STUDY_ID_TOO_LONG.code,
                f"study id {study.id!r} has {len(study.id)} characters; "
                f"OpenClinica allows at most {MAX_STUDY_ID}: shorten it",
                study.locs.get("id", study.loc),
            )
        )
    if study.access and not study.sites:
        out.append(
            error(
                STUDY_WITHOUT_SITES.code,
                f"study {study.id} grants access but has no sites; add at least "
                "one site before anyone is granted access (001)",
                study.locs.get("sites", study.loc),
            )
        )
    template = study.participant_id_template
    if template is not None:
        out.extend(
            check_participant_id_template(template, study.sites, study.locs.get("participant_id_template", study.loc))
        )
    return out


def _grant_rules(model: Model, study: Study) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    cat = catalog(study.system)
    if cat is None:
        return out
    for grant in study.access:
        person = model.people.get(grant.user)
        role = study.roles.get(grant.role)
        base = cat.roles.get(role.base if role else grant.role)
        where = grant.locs
        study_wide = grant.sites == ALL
        if person is not None and person.type == "admin" and not study_wide:
            out.append(
                error(
                    admins_rules.ADMIN_SITE_GRANT.code,
                    f"{person.username} is an admin and cannot be granted site-level "
                    "access; site users are never Admin (001): make the person a user, or grant the whole "
                    "study",
                    where.get("sites", where.get("countries", grant.loc)),
                )
            )
        if base is None:
            continue
        by_country = grant.countries is not None and "countries" in cat.site_scopes
        if study_wide and not base.study_level:
            out.append(
                error(
                    ROLE_LEVEL.code,
                    f"{grant.role} is a site-level role and cannot be granted on all sites of "
                    f"{study.id}; list the sites, or use a study-level role such as "
                    f"{_alternative(cat, study_level=True)}",
                    where.get("sites", grant.loc),
                )
            )
        elif not study_wide and not base.site_level and not by_country:
            out.append(
                error(
                    ROLE_LEVEL.code,
                    f"{grant.role} is a study-level role and cannot be granted on listed "
                    f"sites; use sites: all, or a site-level role such as {_alternative(cat, study_level=False)}",
                    where.get("sites", where.get("countries", grant.loc)),
                )
            )
    return out


def _alternative(cat: Catalog, study_level: bool) -> str:
    names = [r.id for r in cat.roles.values() if (r.study_level if study_level else r.site_level) and r.scope == "both"]
    names = names or [r.id for r in cat.roles.values() if (r.study_level if study_level else r.site_level)]
    return " or ".join(names[:2])


def queries_hidden(
    model: Model, env: str, holders: Mapping[str, Sequence[str]], roles: Mapping[tuple[str, str], EffectiveRole]
) -> list[Diagnostic]:
    """001: a Monitor or Data Manager with no access to a form cannot see (or close) its queries.

    holders: a role's key (`<study>/<role>`) -> the people holding it in the environment."""
    out: list[Diagnostic] = []
    for (study_id, role_id), role in sorted(roles.items()):
        users = holders.get(role.key)
        if not users or not role.base.close_queries:
            continue
        hidden = sorted(f for f, lvl in role.forms.items() if lvl == "none")
        if hidden:
            study = model.studies[study_id]
            loc = role.loc or next(g.loc for g in study.access if g.role == role_id)
            out.append(
                warning(
                    QUERIES_HIDDEN.code,
                    f"in {env}, role {role_id} ({role.base.label}) in {study_id} has no access to "
                    f"{', '.join(hidden)}: {', '.join(sorted(users))} cannot see or close queries on "
                    f"{'that form' if len(hidden) == 1 else 'those forms'}",
                    loc,
                )
            )
    return out
