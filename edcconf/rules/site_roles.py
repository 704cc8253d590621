"""Roles per site (OpenClinica 4, 001; Veeva Vault CDMS, 003; REDCap user rights).

A person may hold a different role at each site of a study: a CRC at one hospital and a monitor at
another. Within one study and environment:
- a study-level role (all sites) is the person's only role there (001: study-level and site-level roles
  are the two levels at which a role is given);
- two roles never share a site: at a site a person has one role;
- REDCap gives a user one role and one data access group per project, so there a second role is refused;
- Vault allows a role per site in EDC Tools, but its user import file holds one row per user and study
  environment (003, "Duplicate user record"), and that file is how edcconf reaches Vault: refused until a
  Vault provider can assign roles per site (fail closed, never a file Vault rejects or half-applies).
A person's first grant in a study keeps the key `<study>/<username>`; a second role is
`<study>/<username>/<role>` (model.Grant.key).
"""

from __future__ import annotations

from collections import defaultdict

from ..diagnostics import Diagnostic, error
from ..identity import fold
from ..model import ALL, Grant, Model, Study, site_scope

REDCAP_ONE_ROLE = "redcap-one-role"
VAULT_ONE_ROW = "vault-one-row-per-user"
STUDY_ROLE_WITH_SITE_ROLES = "study-role-with-site-roles"
SITE_ROLE_OVERLAP = "site-role-overlap"


def check_site_roles(model: Model) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for study in model.studies.values():
        if any(g.per_role for g in study.access):
            several = {fold(g.user) for g in study.access if g.per_role}
            out.extend(_study(model, study, [g for g in study.access if fold(g.user) in several]))
    return out


def _study(model: Model, study: Study, grants: list[Grant]) -> list[Diagnostic]:
    by_person_env: dict[tuple[str, str], list[Grant]] = defaultdict(list)
    for grant in grants:
        for env in study.environments if grant.environments == ALL else grant.environments:
            by_person_env[(fold(grant.user), env)].append(grant)
    out: list[Diagnostic] = []
    reported: set[tuple[int, int]] = set()  # a pair of grants is reported once, whatever the environments
    for (_, env), held in sorted(by_person_env.items()):
        for i, first in enumerate(held):
            for second in held[i + 1 :]:
                pair = (id(first), id(second))
                if pair in reported:
                    continue
                problem = _conflict(model, study, first, second, env)
                if problem is not None:
                    reported.add(pair)
                    out.append(problem)
    return out


def _conflict(model: Model, study: Study, first: Grant, second: Grant, env: str) -> Diagnostic | None:
    where = second.locs.get("role", second.loc)
    both = f"{second.user} is {first.role} (at {first.loc}) and {second.role} in study {study.id}, environment {env}"
    if study.system == "redcap":
        return error(
            REDCAP_ONE_ROLE,
            f"{both}: REDCap gives a user one role and one data access group per "
            "project; give one role, or split the sites into separate projects",
            where,
        )
    if study.system == "vault":
        return error(
            VAULT_ONE_ROW,
            f"{both}: Vault's user import file holds one row per user and study environment "
            "(003, Duplicate user record), and it is how edcconf reaches Vault; assign the second role in EDC "
            "Tools > Users by hand, or give one role",
            where,
        )
    if first.sites == ALL or second.sites == ALL:
        return error(
            STUDY_ROLE_WITH_SITE_ROLES,
            f"{both}: a study-level role (sites: all) is a person's only role "
            "in the study; list the sites of each role instead",
            where,
        )
    shared = sorted(set(site_scope(model, study, first)) & set(site_scope(model, study, second)))
    if shared:
        return error(SITE_ROLE_OVERLAP, f"{both}, both at {', '.join(shared)}: a person has one role at a site", where)
    return None
