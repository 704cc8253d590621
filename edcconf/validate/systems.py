"""Rules that come from one EDC system's own model (seeds 001, 003, 004); OpenClinica's account security
(001) is in rules.openclinica_security."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from ..catalogs import Catalog, catalog, required_catalog
from ..diagnostics import Diagnostic, Loc, UserError, error, suggest
from ..interchange import redcap_versions as rv
from ..model import ALL, FORM_LEVELS, Environment, Grant, Model, Study, site_scope
from ..providers.base import inside
from ..providers.redcap_records import dag_unique_name
from ..resolve.roles import effective_role
from ..rules.ceilings import group_ceilings
from ..rules.openclinica_security import check_domain, check_environment


def check_systems(model: Model) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    out.extend(check_domain(model.openclinica_domain))
    for env in model.environments.values():
        out.extend(check_environment(env))
        out.extend(_target_paths(model, env))
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
                            "schema",
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
            out.extend(_sayable_rights(model, study, cat))
        if study.system == "vault":
            out.extend(_every_site_listed(study))
    return out


def _target_paths(model: Model, env: Environment) -> list[Diagnostic]:
    """A target's `out:` stays inside the configuration directory (symlinks followed)."""

    out = []
    for system, target in env.targets.items():
        if target.out is None:
            continue
        try:
            inside(model.root, target.out, f"targets.{system}.out")
        except UserError as exc:
            out.append(error("unsafe-path", exc.message, target.loc))
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
                    "unknown-reference", f"unknown REDCap right {key!r} in {where}{suggest(key, cat.right_keys)}", loc
                )
            )
        elif value not in cat.right_keys[key]:
            allowed = ", ".join(map(str, sorted(cat.right_keys[key])))
            out.append(error("schema", f"REDCap right {key} in {where} cannot be {value}; allowed: {allowed}", loc))
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
                        "form-level-unsupported",
                        f"role {role.id} asks for {level!r} ({field}) but "
                        f"{cat.label} has no {level} level on forms; use {_nearest(level, cat.levels)}",
                        role.locs.get(field.split(".")[0], role.loc),
                    )
                )
    return out


def _sayable_rights(model: Model, study: Study, cat: Catalog) -> list[Diagnostic]:
    """A REDCap role must hold only rights its project's REDCap version can carry in the user-rights API
    and the User Rights upload: anything else could be neither written nor verified (fail closed)."""

    versions: dict[str, str] = {}
    for env in study.environments:
        target = model.environments[env].targets.get("redcap") if env in model.environments else None
        if target is not None:
            versions.setdefault(target.version or rv.DEFAULT_VERSION, env)
    out = []
    used = {g.role for g in study.access}
    for role_id in sorted(used):
        role = effective_role(study, cat, role_id)
        if role is None:
            continue
        views = {f: v["view"] for f, v in (role.value.get("redcap_forms") or {}).items()}
        for version, env in sorted(versions.items()):
            missing = rv.unsayable(role.redcap, views, version)
            if missing:
                loc = role.loc or next(g.loc for g in study.access if g.role == role_id)
                out.append(
                    error(
                        "redcap-version",
                        f"role {role_id} in {study.id} holds rights REDCap {version} (the "
                        f"version of targets.redcap in {env}) cannot carry: {'; '.join(missing)}; "
                        "remove them, or state the target's `version:` if your REDCap is newer",
                        loc,
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
                    "redcap-one-dag",
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
                    "redcap-dag-collision",
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
                "vault-all-sites-listed",
                f"{grant.user} is granted every site of Vault study {study.id} "
                f"by name ({', '.join(grant.sites)}); Vault refuses a list of all sites and gives them only "
                "as study access, which also covers sites added later: write `sites: all`" + hint,
                _scope_loc(grant),
            )
        )
    return out


def _scope_loc(grant: Grant) -> Loc:
    return grant.locs.get("sites", grant.locs.get("countries", grant.loc))
