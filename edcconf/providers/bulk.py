"""The systems' bulk files made from an effective state, and the ceilings those files carry read back.

One mapping for every direction: the `csv` provider writes these files on apply, `edcconf export`
writes them on request, and `edcconf import` / `state import` read the same columns back, so that
export → import → export gives identical files and a plan after an import shows no changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from ..catalogs import catalog
from ..catalogs import redcap_versions as rv
from ..interchange.acg import (
    DEFAULT_GROUP_ID,
    DEFAULT_GROUP_NAME,
    AcgAssignment,
    AcgDefinition,
    acg_rights_from_sag,
    sag_rights_from_acg,
)
from ..interchange.redcap_users import RedcapUser
from ..interchange.sag import DEFAULT_SAG_ID, SagAssignment, SagDefinition
from ..interchange.sag import OPTIONAL_RIGHT_KEYS as OPTIONAL_SAG_KEYS
from ..interchange.sag import RIGHT_KEYS as SAG_KEYS
from ..interchange.vault import ALL_ENVIRONMENTS, VaultUser
from ..rules.ceiling_values import declaration_from_keys
from .redcap_records import RoleRecord, dag_unique_name, expected_record, role_part

VAULT_DEFAULTS = {
    "security_profile": "EDC User",
    "language": "en",
    "locale": "en_US",
    "timezone": "UTC",
    "security_policy": "Basic",
}
DEFAULT_REDCAP_VERSION = rv.DEFAULT_VERSION


# -- groups: SAG and ACG definitions ----------------------------------------------------------------
NO_RIGHTS = "no-rights"
NO_RIGHTS_NAME = "No Rights"


def sag_rights(group: Mapping) -> dict[str, int]:
    """Every SAG key's highest allowed value: the group's effective REDCap ceiling (rules.ceilings), in
    which a right the declaration does not name is 0. A stored group without one allows nothing."""
    keys = group.get("redcap_ceiling") or {}
    return {key: int(keys.get(key, 0)) for key in SAG_KEYS + OPTIONAL_SAG_KEYS}


def ceiling_from_sag(rights: Mapping[str, int]) -> tuple[dict[str, str], dict[str, int]]:
    """A SAG row as a group's declared ceiling: the shortest declaration that means exactly the row."""
    return declaration_from_keys(rights)


def with_no_rights(groups: Mapping[str, Mapping]) -> dict[str, Mapping]:
    """The groups of a state plus the built-in no-rights group, which every REDCap file carries: REDCap's
    own G-NORIGHTS, every right 0 (never a new group that would allow something)."""
    out = dict(groups)
    out.setdefault(NO_RIGHTS, {"ceiling": {}, "redcap_ceiling": {}, "description": NO_RIGHTS_NAME})
    return out


def group_name(gid: str, group: Mapping) -> str:
    return group.get("description") or gid


def group_id_for(name: str, taken: set[str]) -> str:
    """A group id from a SAG or ACG name: lower case, letters, digits and dashes; unique."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "group"
    base = base if base[0].isalpha() else f"g-{base}"
    gid, n = base, 2
    while gid in taken:
        gid, n = f"{base}-{n}", n + 1
    return gid


def _by_name(groups: Mapping[str, Mapping]) -> list:
    """Groups in the order an administrator reads them (by name), whatever ids an import gave them."""
    return sorted(groups.items(), key=lambda item: (group_name(*item), item[0]))


def sag_id(gid: str, group: Mapping) -> str:
    """The group's SAG id; one derived from the group id for a group never imported (assignments
    must name an id): derived from its name, so the same group gets the same id whatever its id in a
    configuration that imported it. The no-rights group is the module's default SAG."""
    if group.get("sag_id"):
        return group["sag_id"]
    if gid == NO_RIGHTS:
        return DEFAULT_SAG_ID
    return "sag_" + hashlib.sha256(group_name(gid, group).encode()).hexdigest()[:13]


def acg_id(gid: str, group: Mapping) -> str:
    if gid == NO_RIGHTS:
        return DEFAULT_GROUP_ID
    return group.get("acg_id") or "G-" + hashlib.sha256(group_name(gid, group).encode()).hexdigest()[:13].upper()


def _acg_name(gid: str, group: Mapping) -> str:
    return DEFAULT_GROUP_NAME if gid == NO_RIGHTS else group_name(gid, group)


def sag_definitions(groups: Mapping[str, Mapping]) -> list[SagDefinition]:
    groups = with_no_rights(groups)
    return [SagDefinition(sag_id(gid, g), group_name(gid, g), sag_rights(g)) for gid, g in _by_name(groups)]


def acg_definitions(groups: Mapping[str, Mapping]) -> list[AcgDefinition]:
    """One row per group; G-NORIGHTS first, as REDCap lists it. Exactly one row is the default: the group
    marked `default: true`, else G-NORIGHTS."""
    groups = with_no_rights(groups)
    default = next((gid for gid, g in sorted(groups.items()) if g.get("default")), NO_RIGHTS)
    ordered = sorted(_by_name(groups), key=lambda item: item[0] != NO_RIGHTS)
    return [
        AcgDefinition(acg_id(gid, g), _acg_name(gid, g), gid == default, acg_rights_from_sag(sag_rights(g)))
        for gid, g in ordered
    ]


def sag_rights_of_acg(rights: Mapping[str, int]) -> dict[str, int]:
    return {key: int(v) for key, v in sag_rights_from_acg(rights).items() if key in SAG_KEYS + OPTIONAL_SAG_KEYS}


def _first_last(name: str | None, username: str) -> tuple[str, str]:
    parts = (name or username).rsplit(" ", 1)
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], parts[0])


def _assigned(accounts: Mapping[str, Mapping], groups: Mapping[str, Mapping]):
    """(username, account, group id, group) of every account in a group; a deactivated account is in
    no-rights (REDCap keeps the account: it may be granted nothing)."""
    groups = with_no_rights(groups)
    for user, a in sorted(accounts.items()):
        gid = a.get("group") if a.get("status") == "active" else NO_RIGHTS
        if gid in groups:
            yield user, a, gid, groups[gid]


def sag_assignments(accounts: Mapping[str, Mapping], groups: Mapping[str, Mapping]) -> list[SagAssignment]:
    return [
        SagAssignment(user, sag_id(gid, g), a.get("name") or "", a.get("email") or "", group_name(gid, g))
        for user, a, gid, g in _assigned(accounts, groups)
    ]


def acg_assignments(accounts: Mapping[str, Mapping], groups: Mapping[str, Mapping]) -> list[AcgAssignment]:
    return [AcgAssignment(user, acg_id(gid, g), _acg_name(gid, g)) for user, a, gid, g in _assigned(accounts, groups)]


# -- studies: Vault user import and REDCap user rights ------------------------------------------------
def vault_role_name(grant: Mapping, role_value: Mapping) -> str:
    """Vault's Study Role: a custom role by its id, a standard role by Vault's label."""
    cat = catalog("vault")
    assert cat is not None  # shipped with the package
    base = cat.roles.get(grant.get("base_role") or role_value.get("base_role", ""))
    if base is not None and grant.get("role") == base.id:
        return base.label
    return grant.get("role", "")


def grants_by_study(state: Mapping) -> dict[str, list[dict]]:
    """Each study's grants, sorted by key: built once per run, so files per study stay linear."""
    out: dict[str, list[dict]] = {}
    for _, grant in sorted(state.get("grants", {}).items()):
        out.setdefault(grant.get("study"), []).append(grant)
    return out


def vault_users(
    environment: str,
    state: Mapping,
    grants: list[dict],
    defaults: Mapping[str, str] | None = None,
    disabled: Iterable[Mapping] = (),
) -> list[VaultUser]:
    """One row per person of a Vault study in one environment (003), by user name. `grants` are written
    Enabled (a deactivated account's Disabled: their study access must not stay on; a grant declared
    `study_status: disabled` Disabled, with its role and sites); `disabled` (grants
    revoked, or declared but withdrawn) Disabled, unless the person also has a current grant. Vault keeps
    a user's study access until a row disables it, so leaving such a person out would leave them in.
    All sites is study access (Site Access and Country Access both blank), never a list of every site."""
    opts = {**VAULT_DEFAULTS, **(defaults or {})}
    accounts = state.get("accounts", {})
    rows = []
    grant: Mapping  # a current grant, then a disabled one
    for grant in grants:
        active = (
            accounts.get(grant["user"], {}).get("status") != "deactivated" and grant.get("study_status") != "disabled"
        )  # declared study_status: disabled (003)
        rows.append(_vault_row(environment, state, grant, opts, "Enabled" if active else "Disabled"))
    current = {grant["user"] for grant in grants}
    study_sites: dict[str, list] = {}
    for grant in disabled:
        if grant["user"] not in current:
            current.add(grant["user"])
            sites = study_sites.setdefault(
                grant["study"], state.get("studies", {}).get(grant["study"], {}).get("sites", [])
            )
            rows.append(_vault_row(environment, state, _within(grant, sites, state.get("sites", {})), opts, "Disabled"))
    return sorted(rows, key=lambda r: r.user_name)


def _within(grant: Mapping, study_sites: list[str], sites: Mapping) -> dict:
    """A withdrawn grant's scope as the study is now: a site (or country) it has since lost cannot be
    named (Vault: Invalid Site), and what is left naming every site is study access (Vault refuses a
    list of all sites); it only says which access to disable."""
    access = grant.get("site_access", "sites")
    listed = [s for s in grant.get("sites", ()) if s in study_sites]
    if access == "sites" and listed and set(listed) != set(study_sites):
        return {**grant, "sites": listed}
    present = {sites[s]["country"] for s in study_sites if s in sites}
    countries = [c for c in grant.get("countries", ()) if c in present]
    if access == "countries" and countries:
        return {**grant, "countries": countries}
    return {**grant, "site_access": "all", "sites": list(study_sites)}


def _vault_row(environment: str, state: Mapping, grant: Mapping, opts: Mapping[str, str], status: str) -> VaultUser:
    account = state.get("accounts", {}).get(grant["user"], {})
    sites, roles = state.get("sites", {}), state.get("roles", {})
    first, last = _first_last(account.get("name"), grant["user"])
    access = grant.get("site_access", "sites")
    site_list = tuple(grant.get("sites", ())) if access == "sites" else ()
    countries = tuple(grant.get("countries", ())) if access == "countries" else ()
    zone = next(
        (sites[s]["timezone"] for s in grant.get("sites", ()) if sites.get(s, {}).get("timezone")), opts["timezone"]
    )
    return VaultUser(
        study_environment=environment,
        last_name=last,
        first_name=first,
        user_name=grant["user"],
        study_status=status,
        security_profile=opts["security_profile"],
        study_role=vault_role_name(grant, roles.get(grant.get("role_ref"), {})),
        company=account.get("external") or "",
        email=account.get("email") or "",
        timezone=zone,
        site_access=site_list,
        country_access=countries,
        title="",
        language=opts["language"],
        locale=opts["locale"],
        security_policy=opts["security_policy"],
    )


def redcap_users(study: str, state: Mapping, grants: list[dict], version: str | None = None) -> list[RedcapUser]:
    """The User Rights upload of one REDCap study: every field, the data access group always."""
    study_sites = list(state.get("studies", {}).get(study, {}).get("sites", []))
    dags = {s: dag_unique_name(s) for s in study_sites}
    roles = state.get("roles", {})
    version = version or DEFAULT_REDCAP_VERSION
    parts: dict[object, RoleRecord] = {}  # role ref -> its part of every record (a hundred grants share a role)
    out = []
    for grant in grants:
        ref = grant.get("role_ref")
        role = roles.get(ref, {})
        part = parts.get(ref)
        if part is None:
            part = parts[ref] = role_part(role, version)
        rec = expected_record(grant, role, study_sites, dags, version, part)
        # the rows of one role share its mappings: write_redcap_users only reads them
        out.append(
            RedcapUser(rec.username, rec.expiration, rec.data_access_group, rec.rights, rec.forms, rec.forms_export)
        )
    return out


__all__ = [
    "ALL_ENVIRONMENTS",
    "VAULT_DEFAULTS",
    "sag_rights",
    "ceiling_from_sag",
    "sag_definitions",
    "acg_definitions",
    "sag_assignments",
    "acg_assignments",
    "vault_users",
    "redcap_users",
    "group_id_for",
    "sag_rights_of_acg",
]
