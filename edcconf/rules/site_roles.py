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
from .book import rule

FAMILY = "site_roles"

STUDY_ROLE_WITH_SITE_ROLES = rule(
    "study-role-with-site-roles",
    family=FAMILY,
    source="001",
    kind="error",
    summary="a study-level role is a person's only role in the study",
    text=(
        "a person with a study-level role (`sites: all`) holds no other role in that study and "
        "environment: roles per site are for people who work at some sites"
    ),
    example=(
        "dina.dm is viewer (at studies/heart.yaml:18) and data_manager in study HEART-01, environment "
        "test: a study-level role (sites: all) is a person's only role in the study; list the sites of "
        "each role instead"
    ),
)

SITE_ROLE_OVERLAP = rule(
    "site-role-overlap",
    family=FAMILY,
    source="001, 003",
    kind="error",
    summary="a person may hold a different role at different sites of a study",
    text=(
        "a person may hold a different role at different sites of a study (a CRC at one hospital, a "
        "monitor at another), never two roles at one site; sites named by country count as the study's "
        "sites in those countries"
    ),
    example=(
        "cara.crc is monitor (at studies/heart.yaml:18) and crc in study HEART-01, environment "
        "production, both at BOS: a person has one role at a site"
    ),
)

REDCAP_ONE_ROLE = rule(
    "redcap-one-role",
    family=FAMILY,
    source="REDCap user rights",
    kind="error",
    summary="in a REDCap project a person holds one role",
    text=(
        "in a REDCap project a person holds one role (REDCap gives a user one role and one data access "
        "group per project)"
    ),
    example=(
        "cara.crc is data_entry (at studies/diab.yaml:10) and read_only in study DIAB-02, environment "
        "test: REDCap gives a user one role and one data access group per project; give one role, or "
        "split the sites into separate projects"
    ),
)

VAULT_ONE_ROW_PER_USER = rule(
    "vault-one-row-per-user",
    family=FAMILY,
    source="003",
    kind="error",
    summary="in a Vault study a person holds one role per environment in edcconf",
    text=(
        "in a Vault study a person holds one role per environment in edcconf: Vault allows a role per "
        "site in EDC Tools, but its user import file (edcconf's way to Vault) holds one row per user and "
        "study environment"
    ),
    example=(
        "ann is crc (at studies/onc.yaml:18) and cra in study ONC-04, environment test: Vault's user "
        "import file holds one row per user and study environment (003, Duplicate user record), …"
    ),
)


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
            REDCAP_ONE_ROLE.code,
            f"{both}: REDCap gives a user one role and one data access group per "
            "project; give one role, or split the sites into separate projects",
            where,
        )
    if study.system == "vault":
        return error(
            VAULT_ONE_ROW_PER_USER.code,
            f"{both}: Vault's user import file holds one row per user and study environment "
            "(003, Duplicate user record), and it is how edcconf reaches Vault; assign the second role in EDC "
            "Tools > Users by hand, or give one role",
            where,
        )
    if first.sites == ALL or second.sites == ALL:
        return error(
            STUDY_ROLE_WITH_SITE_ROLES.code,
            f"{both}: a study-level role (sites: all) is a person's only role "
            "in the study; list the sites of each role instead",
            where,
        )
    shared = sorted(set(site_scope(model, study, first)) & set(site_scope(model, study, second)))
    if shared:
        return error(
            SITE_ROLE_OVERLAP.code, f"{both}, both at {', '.join(shared)}: a person has one role at a site", where
        )
    return None
