"""What each system can hold: REDCap's DAGs, versions and form levels, Vault's site lists (REDCap, 003).

Rules that come from one EDC system's own model (seeds 001, 003, 004); OpenClinica's account security
(001) is in rules.openclinica_security."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import cast

from ..catalogs import Catalog, catalog, required_catalog
from ..diagnostics import Diagnostic, Loc, error, suggest
from ..model import ALL, FORM_LEVELS, Grant, Model, Study, site_scope
from . import files as files_rules
from . import references as references_rules
from .book import rule
from .ceilings import group_ceilings
from .openclinica_security import check_domain, check_environment

FAMILY = "systems"

REDCAP_ONE_DAG = rule(
    "redcap-one-dag",
    family=FAMILY,
    source="docs/catalogs.md, REDCap",
    kind="error",
    summary="a REDCap grant is to one site (its DAG) or to all sites",
    text="a REDCap grant is to one site (its data access group) or to all sites (no DAG)",
    example=(
        "ed.entry is granted 2 sites of REDCap study EXTRA-1 (BOS, NYC); REDCap puts a user in at most "
        "one data access group per project: grant one site, or all sites"
    ),
)

REDCAP_DAG_COLLISION = rule(
    "redcap-dag-collision",
    family=FAMILY,
    source="REDCap",
    kind="error",
    summary="the sites of a REDCap study are distinct data access groups",
    text=(
        "the sites of a REDCap study are distinct data access groups: REDCap derives a group's unique "
        "name from its label (lower case, letters, digits and `_`, at most 18 characters) and the User "
        "Rights upload names the group by it, so sites that differ only in case, in `-` against `_`, or "
        "after their first 18 characters would be one group (both sites named)"
    ),
    example=(
        "sites ST-LOUIS and ST_LOUIS of REDCap study RC-1 would be one data access group: REDCap names "
        "both 'st_louis' (lower case, letters, digits and underscores, at most 18 characters); give one "
        "of them an id that differs there"
    ),
)

REDCAP_VERSION = rule(
    "redcap-version",
    family=FAMILY,
    source="REDCap API, 004",
    kind="error",
    summary="a REDCap role holds only rights the REDCap version of each environment's `targets.redcap`",
    text=(
        "a REDCap role holds only rights the REDCap version of each environment's `targets.redcap` "
        "(`version:`, default the LTS line of docs/interchange.md) can carry in its user-rights API and "
        "User Rights upload: per-form delete needs 15.6, randomisation 14.5, API modules 14.0, read-only "
        "user rights 14.1; data quality resolution, double data entry, DTS, real-time web service and "
        "external-module configuration exist only in SAG/ACG ceilings"
    ),
    example=(
        "role r in S holds rights REDCap 14.0.0 (the version of targets.redcap in test) cannot carry: "
        "form f: view & edit + delete (per-form delete needs REDCap 15.6)"
    ),
)

FORM_LEVEL_UNSUPPORTED = rule(
    "form-level-unsupported",
    family=FAMILY,
    source="docs/catalogs.md",
    kind="error",
    summary="a custom role asks only for form levels its system has",
    text=(
        "a custom role asks only for form levels its system has (REDCap: none, read, edit — no review) "
        "and names the nearest allowed levels"
    ),
    example=("role reviewer asks for 'review' (default) but REDCap has no review level on forms; use read or edit"),
)

VAULT_ALL_SITES_LISTED = rule(
    "vault-all-sites-listed",
    family=FAMILY,
    source="003",
    kind="error",
    summary="a Vault grant does not name every site of its study",
    text=(
        "a Vault grant does not name every site of its study (one site of a one-site study included): "
        'Vault\'s user import refuses such a Site Access ("Invalid Site: You cannot list all Sites") and '
        "holds all sites only as study access, which also covers sites added later; for a site-level role "
        "(which cannot have study access) the message says to grant by `countries:` or fewer sites"
    ),
    example=(
        "nora.lund is granted every site of Vault study ONC-04 by name (MGH, CHU-LYON, APHP, OUS); Vault "
        "refuses a list of all sites and gives them only as study access, which also covers sites added "
        "later: write sites: all"
    ),
)


def dag_unique_name(site_id: str) -> str:
    """The unique group name REDCap derives from a DAG label: lower case, letters, digits and
    underscores, at most 18 characters."""
    name = re.sub(r"[^a-z0-9_]", "", re.sub(r"[\s-]+", "_", site_id.lower()))
    return name[:18] or "dag"


def check_systems(model: Model) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    out.extend(check_domain(model.openclinica_domain))
    for env in model.environments.values():
        out.extend(check_environment(env))
    for group in model.groups.values():
        out.extend(
            redcap_keys(
                catalog("redcap"),
                cast(Mapping[str, int], group.named.get("redcap") or {}),
                group.loc,
                f"ceiling of group {group.id}",
            )
        )
    out.extend(group_ceilings(model))
    for study in model.studies.values():
        cat = catalog(study.system)
        if cat is None:
            continue
        out.extend(_unsupported_levels(study, cat))
        for role in study.roles.values():
            if role.redcap:
                if not cat.right_keys:
                    out.append(
                        error(
                            files_rules.SCHEMA.code,
                            f"role {role.id}: `redcap:` rights only apply to REDCap studies, and "
                            f"{study.id} is a {cat.label} study",
                            role.locs.get("redcap", role.loc),
                        )
                    )
                else:
                    out.extend(redcap_keys(cat, role.redcap, role.locs.get("redcap", role.loc), f"role {role.id}"))
        if study.system == "redcap":
            out.extend(_one_dag(model, study))
            out.extend(_distinct_dags(study))
        if study.system == "vault":
            out.extend(_every_site_listed(study))
    return out


def redcap_keys(cat: Catalog | None, keys: Mapping[str, int], loc: Loc, where: str) -> list[Diagnostic]:
    """Exact REDCap right keys and values (004): an unknown key or value is an error, never ignored."""
    if not keys or cat is None:
        return []

    out = []
    for key, value in keys.items():
        if key not in cat.right_keys:
            out.append(
                error(
                    references_rules.UNKNOWN_REFERENCE.code,
                    f"unknown REDCap right {key!r} in {where}{suggest(key, cat.right_keys)}",
                    loc,
                )
            )
        elif value not in cat.right_keys[key]:
            allowed = ", ".join(map(str, sorted(cat.right_keys[key])))
            out.append(
                error(
                    files_rules.SCHEMA.code, f"REDCap right {key} in {where} cannot be {value}; allowed: {allowed}", loc
                )
            )
    return out


def _nearest(level: str, allowed: tuple[str, ...]) -> str:
    i = FORM_LEVELS.index(level)
    lower = [lvl for lvl in allowed if FORM_LEVELS.index(lvl) < i]
    higher = [lvl for lvl in allowed if FORM_LEVELS.index(lvl) > i]
    return " or ".join(x for x in (lower[-1] if lower else None, higher[0] if higher else None) if x)


def _unsupported_levels(study: Study, cat: Catalog) -> list[Diagnostic]:
    """REDCap has no `review` form level: a role needing it on a REDCap form cannot be planned."""
    out = []
    for role in study.roles.values():
        wanted = (
            [("default", role.default)]
            + [(f"tags.{t}", lvl) for t, lvl in role.tags.items()]
            + [("contact_forms", role.contact_forms)]
        )
        for field, level in wanted:
            if level is not None and level not in cat.levels:
                out.append(
                    error(
                        FORM_LEVEL_UNSUPPORTED.code,
                        f"role {role.id} asks for {level!r} ({field}) but "
                        f"{cat.label} has no {level} level on forms; use {_nearest(level, cat.levels)}",
                        role.locs.get(field.split(".")[0], role.loc),
                    )
                )
    return out


def _one_dag(model: Model, study: Study) -> list[Diagnostic]:
    """REDCap puts a user in at most one data access group per project, or in none (all records)."""

    out = []
    for grant in study.access:
        if grant.sites == ALL:
            continue
        sites = site_scope(model, study, grant)
        if len(sites) > 1 and set(sites) != set(study.sites):
            out.append(
                error(
                    REDCAP_ONE_DAG.code,
                    f"{grant.user} is granted {len(sites)} sites of REDCap study "
                    f"{study.id} ({', '.join(sites)}); REDCap puts a user in at most one data access group "
                    "per project: grant one site, or all sites",
                    _scope_loc(grant),
                )
            )
    return out


def _distinct_dags(study: Study) -> list[Diagnostic]:
    """Each site of a REDCap study is its own data access group: REDCap derives a group's unique name from
    its label (lower case, letters, digits and underscores, at most 18 characters), and the User Rights
    upload names the group by it, so two sites that differ only in case, in '-' against '_', or after their
    first 18 characters would put their users in one group, each seeing the other's records."""

    first: dict[str, str] = {}
    out = []
    for site in study.sites:
        name = dag_unique_name(site)
        if name in first and first[name] != site:
            out.append(
                error(
                    REDCAP_DAG_COLLISION.code,
                    f"sites {first[name]} and {site} of REDCap study {study.id} "
                    f"would be one data access group: REDCap names both {name!r} (lower case, letters, digits "
                    "and underscores, at most 18 characters); give one of them an id that differs there",
                    study.locs.get("sites", study.loc),
                    sites=[first[name], site],
                    dag=name,
                )
            )
        first.setdefault(name, site)
    return out


def _every_site_listed(study: Study) -> list[Diagnostic]:
    """003: Vault's user import refuses a Site Access that lists every site of the study ("Invalid Site:
    You cannot list all Sites"); all-site access is study access, which also covers sites added later.
    A grant that names every site (even the only one) could be written neither way without changing what
    it means, so it is refused here rather than when its file is imported."""
    if not study.sites:
        return []
    cat = required_catalog("vault")
    out = []
    for grant in study.access:
        if not isinstance(grant.sites, tuple) or not set(grant.sites) >= set(study.sites):
            continue
        role = study.roles.get(grant.role)
        base = cat.roles.get(role.base if role is not None else grant.role)
        hint = ""
        if base is not None and not base.study_level:
            hint = (
                f" ({grant.role} is a site-level role, which cannot have study access: grant it by "
                "`countries:` or on fewer sites instead)"
            )
        out.append(
            error(
                VAULT_ALL_SITES_LISTED.code,
                f"{grant.user} is granted every site of Vault study {study.id} "
                f"by name ({', '.join(grant.sites)}); Vault refuses a list of all sites and gives them only "
                "as study access, which also covers sites added later: write `sites: all`" + hint,
                _scope_loc(grant),
            )
        )
    return out


def _scope_loc(grant: Grant) -> Loc:
    return grant.locs.get("sites", grant.locs.get("countries", grant.loc))
