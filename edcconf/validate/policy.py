"""Institutional rules that hold whatever the environment (docs/rules.md; seed 001; external people: rules.external).

Participant ID templates are checked by `rules.openclinica`. Rules that need effective rights (the
ceilings) run after resolution: see `resolve.ceilings`.
"""

from __future__ import annotations

from ..catalogs import catalog
from ..diagnostics import Diagnostic, error
from ..model import ALL, Model, Study
from ..rules import admins as admins_rules
from ..rules import identity as identity_rules
from ..rules import policy as policy_rules
from ..rules.external import check_external
from ..rules.openclinica import check_participant_id_template

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
                policy_rules.STUDY_WITHOUT_SITES.code,
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
                    policy_rules.ROLE_LEVEL.code,
                    f"{grant.role} is a site-level role and cannot be granted on all sites of "
                    f"{study.id}; list the sites, or use a study-level role such as "
                    f"{_alternative(cat, study_level=True)}",
                    where.get("sites", grant.loc),
                )
            )
        elif not study_wide and not base.site_level and not by_country:
            out.append(
                error(
                    policy_rules.ROLE_LEVEL.code,
                    f"{grant.role} is a study-level role and cannot be granted on listed "
                    f"sites; use sites: all, or a site-level role such as {_alternative(cat, study_level=False)}",
                    where.get("sites", where.get("countries", grant.loc)),
                )
            )
    return out


def _alternative(cat, study_level: bool) -> str:
    names = [r.id for r in cat.roles.values() if (r.study_level if study_level else r.site_level) and r.scope == "both"]
    names = names or [r.id for r in cat.roles.values() if (r.study_level if study_level else r.site_level)]
    return " or ".join(names[:2])
