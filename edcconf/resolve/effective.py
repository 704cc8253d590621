"""Per environment, the effective state: a plain JSON value of what should exist in the EDC systems.

Shape (the same one the state backends store and the planner diffs):
    accounts: username -> {email, name, type, status, group, expires, external, [agreement_signed, requested_by]}
    sites:    site id  -> {name, country, timezone, city}          (sites used by the env's studies)
    groups:   group id -> {ceiling, redcap_ceiling, message}
    studies:  study id -> {name, system, status, sites, admins, roles}   (admins see every study, 001;
              roles: custom role id -> digest of its version, used by a grant or not, 004)
    roles:    role ref -> {base_role, forms, close_queries, sdv, rights}   (once per role and study)
    grants:   "<study>/<username>[/<role>]" -> {study, user, role, base_role, sites, site_access, [countries], expires,
                                             role_ref, [study_status]}
`study_status: "disabled"` (only present then) is a Vault grant declared `study_status: disabled` (003's
Study Status Disabled): on record in Vault with its role and sites, but no access; `expand_grant` gives
it no form levels and no derived abilities, and the questions (who-can, explain, access tests) do not
count it (`usable`).
`site_access` says how the sites were granted: `all` (study access: Vault's all-site access, no REDCap
data access group), `countries` (Vault's Country Access, listed in `countries`) or `sites`.
Form levels live in `roles`; `expand_grant` joins them into a grant where a grant is shown. A role ref
("<study>/<role>#<digest of its value>") names one version of a role's levels, so that a state in which
only some grants of a changed role were applied still says exactly what each grant has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..catalogs import catalog
from ..diagnostics import Diagnostic, Loc
from ..model import ALL, Grant, Group, Model, Person, Study, frozen_map, site_scope
from ..rules.admins import active_admins
from ..rules.ceiling_values import Over, group_ceiling, over_ceiling
from ..rules.ceilings import exceeded
from ..rules.external import account_notice, not_yet, not_yet_warning
from ..rules.policy import queries_hidden
from ..rules.qualifications import QualificationCheck
from .reviews import REVIEW_REASONS, review_exclusions
from .roles import EffectiveRole, effective_role
from .sections import EffectiveState, empty_state

STATE_SECTIONS = ("sites", "groups", "studies", "accounts", "roles", "grants")


@dataclass(frozen=True)
class Exclusion:
    """A declared grant that is not in the effective state, and why (shown when it is revoked)."""

    reason: str
    loc: Loc


@dataclass(frozen=True)
class EnvironmentState:
    environment: str
    as_of: date
    state: EffectiveState  # the plain JSON effective state (treat as read-only)
    sources: Mapping[str, str]  # "<kind>:<key>" -> "path:line" that declared it
    excluded: Mapping[str, Exclusion]  # grant key -> why it is absent
    diagnostics: tuple[Diagnostic, ...]
    notices: Mapping[str, tuple[str, ...]] = field(
        default_factory=frozen_map
    )  # username -> whom to tell of a new account (000)
    # grant key -> the `ceiling-exceeded` error of a grant above its person's group ceiling. Not an error of
    # the configuration by itself: ceilings are checked when a grant is added or changed (002, 004), which
    # only the plan knows (rules.ceilings.at_assignment); an applied grant nobody changes is kept.
    ceilings: Mapping[str, Diagnostic] = field(default_factory=frozen_map)
    # grant key -> the `qualification-missing` error of a declared grant whose person lacks a qualification
    # its role requires on as_of (excluded: suspended). The plan refuses it if not applied yet, else
    # revokes it (rules.qualifications.at_assignment)
    qualifications: Mapping[str, Diagnostic] = field(default_factory=frozen_map)


DISABLED = "disabled"


def usable(grant: Mapping[str, Any]) -> bool:
    """Whether a grant gives access: not a Vault grant whose Study Status is Disabled (003)."""
    return grant.get("study_status") != DISABLED


def expand_grant(state: Mapping[str, Any], grant: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A grant with its role's form levels and derived abilities joined in (the shape plans show). A
    disabled grant (Vault Study Status Disabled) gives none: every form `none`, no derived ability."""
    if grant is None:
        return None
    role = state.get("roles", {}).get(grant.get("role_ref") or "", {})  # no role: no key is ""
    shown = {k: v for k, v in grant.items() if k != "role_ref"}
    if not usable(grant):
        return {**shown, "forms": dict.fromkeys(role.get("forms", {}), "none"), "close_queries": [], "sdv": []}
    # shared with the role, not copied: every grant of a role has the same levels, and plans are read-only
    return {
        **shown,
        "forms": role.get("forms", {}),
        "close_queries": role.get("close_queries", []),
        "sdv": role.get("sdv", []),
    }


def person_grants(grants: Mapping[str, dict[str, Any]], user: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """A person's grants by study, each as (key, value): one per role they hold there (roles per site)."""
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for key, grant in grants.items():
        if grant.get("user") == user:
            out.setdefault(grant["study"], []).append((key, grant))
    return out


def role_version(role: EffectiveRole) -> tuple[str, dict[str, Any]]:
    """(role ref, the value stored under it): a new dict per call, its digest worked out once (role.ref)."""
    return role.ref, role.state_value()


_ALL_SITES = {"site_access": "all"}


def site_access(grant: Grant) -> dict[str, Any]:
    """How a grant names its sites, as the systems need it (003: all sites is study access)."""
    if grant.sites == ALL:
        return _ALL_SITES  # only ever unpacked into a grant's value
    if grant.countries is not None:
        return {"site_access": "countries", "countries": sorted(set(grant.countries))}
    return {"site_access": "sites"}


def grant_environments(study: Study, grant: Grant) -> tuple[str, ...]:
    return (
        study.environments
        if grant.environments == ALL
        else tuple(e for e in grant.environments if e in study.environments)
    )


def _earliest(*dates: date | None) -> date | None:
    present = [d for d in dates if d is not None]
    return min(present) if present else None


_UNSEEN = object()


def _why_excluded(person: Person, grant: Grant | None, as_of: date) -> str | None:
    """Why a grant (or, with None, every grant of the person) is left out of the effective state."""
    if person.status == "deactivated":
        return f"{person.username} is deactivated"
    if person.expired(as_of):
        assert person.expires is not None  # expired() is true only with an expiry date
        return f"{person.username} expired on {person.expires.isoformat()}"
    if grant is not None and grant.expires is not None and grant.expires < as_of:
        return f"expired on {grant.expires.isoformat()}"
    return not_yet(person, as_of)  # 000: an external person's access starts on their agreement date


def withdrawn_grants(
    model: Model, env_state: EnvironmentState, roles: Mapping[tuple[str, str], EffectiveRole]
) -> dict[str, list[dict[str, Any]]]:
    """Per study of the environment, the declared grants its state leaves out because the person is
    deactivated or expired or the grant expired, or the person's external agreement takes effect later, or an
    access review revoked it (not those the environment is not granted), as the values
    they would have, by user: what a system that disables rather than forgets (Vault) is told to disable."""
    out: dict[str, list[dict[str, Any]]] = {}
    for study in model.studies.values():
        if study.id not in env_state.state.get("studies", {}):
            continue
        for grant in sorted(study.access, key=lambda g: g.user):
            person, role = model.people.get(grant.user), roles.get((study.id, grant.role))
            if grant.key not in env_state.excluded or person is None or role is None:
                continue
            if grant.environments != ALL and env_state.environment not in grant.environments:
                continue
            reviewed = env_state.excluded[grant.key].reason.startswith(REVIEW_REASONS)  # withdrawn too (#20)
            if (
                not reviewed
                and _why_excluded(person, grant, env_state.as_of) is None
                and grant.key not in env_state.qualifications
            ):
                continue
            out.setdefault(study.id, []).append(
                {
                    "study": study.id,
                    "user": grant.user,
                    "role": grant.role,
                    "base_role": role.base.id,
                    "sites": site_scope(model, study, grant),
                    **site_access(grant),
                }
            )
    return out


def group_value(group: Group) -> dict[str, Any]:
    value = {"ceiling": dict(group.ceiling), "redcap_ceiling": dict(group.redcap_ceiling), "message": group.message}
    if group.description is not None:
        value["description"] = group.description
    if group.default:
        value["default"] = True
    value.update({k: v for k, v in (("sag_id", group.sag_id), ("acg_id", group.acg_id)) if v})
    return value


def account_value(person: Person) -> dict[str, Any]:
    value = {
        "email": person.email,
        "name": person.name,
        "type": person.type,
        "status": person.status,
        "group": person.group,
        "expires": person.expires.isoformat() if person.expires else None,
        "external": person.external.organization or "external" if person.external else None,
    }
    ext = person.external
    if ext is not None:  # 000: the agreement date, and who asked (they hear when it is recorded)
        value["agreement_signed"] = ext.agreement_signed.isoformat() if ext.agreement_signed else None
        value["requested_by"] = ext.requested_by
    return value


def environment_state(
    model: Model,
    env: str,
    as_of: date,
    roles: Mapping[tuple[str, str], EffectiveRole],
    qualified: QualificationCheck | None = None,
) -> EnvironmentState:
    """qualified: the check of a resolve over several environments, shared by them (made here if None)."""
    state = empty_state()
    sources: dict[str, str] = {}
    excluded: dict[str, Exclusion] = {}
    diags: list[Diagnostic] = []
    above: dict[str, Diagnostic] = {}  # grant key -> ceiling-exceeded, decided by the plan (see EnvironmentState)
    for group in model.groups.values():
        if group.builtin and not group.members:
            continue  # every system has its no-rights default; nothing to create until someone is in it
        state["groups"][group.id] = group_value(group)
        sources[f"group:{group.id}"] = str(group.loc)
    person: Person | None  # every person here; below, the person of a grant (None: undeclared)
    for person in model.people.values():
        state["accounts"][person.username] = account_value(person)
        sources[f"account:{person.username}"] = str(person.loc)
    versions: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}  # (study, role) -> (ref, value): once per role
    ceiling_checks: dict[tuple[Any, ...], list[Any]] = {}  # ((study, role), group) -> rights over the ceiling
    by_profile: dict[tuple[Any, ...], list[Any]] = {}  # (group, system, rights, keys): what a check reads
    admins = active_admins(model, as_of)  # each study lists them: admins see every study (001)
    notices: dict[str, set[str]] = {}
    people, grants_out, roles_out = model.people, state["grants"], state["roles"]
    person_excluded: dict[str, str | None] = {}  # why a person's grants are all excluded (once per person)
    reviewed, review_warnings = review_exclusions(model, env, as_of) if model.reviews else ({}, [])  # #20
    diags.extend(review_warnings)
    if qualified is None and model.qualifications:
        qualified = QualificationCheck(model, as_of)
    unqualified: dict[str, Diagnostic] = {}  # grant key -> qualification-missing (see EnvironmentState)
    for study in model.studies.values():
        if env not in study.environments or catalog(study.system) is None:
            continue
        state["studies"][study.id] = {
            "name": study.name,
            "system": study.system,
            "status": study.status,
            "sites": sorted(study.sites),
            "admins": admins,
        }
        sources[f"study:{study.id}"] = str(study.loc)
        for sid in study.sites:
            site = model.sites.get(sid)
            if site is not None and sid not in state["sites"]:
                state["sites"][sid] = {
                    "name": site.name,
                    "country": site.country,
                    "timezone": site.timezone,
                    "city": site.city,
                }
                sources[f"site:{sid}"] = str(site.loc)
        all_sites = sorted(study.sites)  # one list for every all-sites grant of the study (read-only)
        sid = study.id
        for grant in study.access:
            # the study is in env (above): so is the grant unless it lists environments without env
            if grant.environments != ALL and env not in grant.environments:
                listed = ", ".join(grant.environments)
                excluded[grant.key] = Exclusion(f"not granted in {env} (environments: {listed})", grant.loc)
                continue
            person = people.get(grant.user)
            role_id = (sid, grant.role)
            role = roles.get(role_id)
            if person is None or role is None:
                continue
            reason: object = person_excluded.get(person.username, _UNSEEN)
            if reason is _UNSEEN:
                reason = person_excluded[person.username] = _why_excluded(person, None, as_of)
            assert reason is None or isinstance(reason, str)  # _UNSEEN is replaced just above
            if reason is None and grant.expires is not None and grant.expires < as_of:
                reason = _why_excluded(person, grant, as_of)
            if reviewed and reason is None and grant.key in reviewed:  # revoked, or not confirmed by the due date (#20)
                excluded[grant.key] = Exclusion(*reviewed[grant.key])
                continue
            if reason is not None:
                excluded[grant.key] = Exclusion(reason, grant.loc)
                if person.external is not None and reason == not_yet(person, as_of):  # 000: access starts later
                    diags.append(not_yet_warning(person, grant))
                continue
            if qualified is not None:  # (inline: the person is known to meet the role's requirements)
                need = qualified.needs.get(role_id)  # (its requirements, their ids, username -> what they lack)
                if need is None or need[2].get(person.username, _UNSEEN) is not None:
                    lacks = qualified(person, study, grant, role_id, role.base.id)
                    if lacks is not None:  # suspended: a qualification its role requires is lacking on as_of
                        excluded[grant.key], unqualified[grant.key] = Exclusion(lacks[0], grant.loc), lacks[1]
                        continue
            expires = _earliest(grant.expires, person.expires) if grant.expires or person.expires else None
            ref, value = versions.get(role_id) or versions.setdefault(role_id, role_version(role))
            key = grant.key
            if grant.sites == ALL:  # the keys in the order of the general case below
                grants_out[key] = {
                    "study": sid,
                    "user": grant.user,
                    "role": grant.role,
                    "base_role": role.base.id,
                    "sites": all_sites,
                    "site_access": "all",
                    "expires": expires.isoformat() if expires else None,
                    "role_ref": ref,
                }
            else:
                grants_out[key] = {
                    "study": sid,
                    "user": grant.user,
                    "role": grant.role,
                    "base_role": role.base.id,
                    "sites": site_scope(model, study, grant),
                    **site_access(grant),
                    "expires": expires.isoformat() if expires else None,
                    "role_ref": ref,
                }
            if grant.disabled:  # 003: Study Status Disabled, kept on record without access
                grants_out[key]["study_status"] = DISABLED
            sources["grant:" + key] = str(grant.loc)
            roles_out.setdefault(ref, value)
            over = ceiling_checks.get((role_id, person.group))
            if over is None:  # once per role and group, computed once per distinct rights profile
                profile = (person.group, study.system, tuple(role.rights.items()), tuple(role.redcap.items()))
                over = by_profile.get(profile)
                if over is None:
                    over = by_profile[profile] = _over_ceiling(model, person.group, grant.study, role)
                ceiling_checks[(role_id, person.group)] = over
            if over:
                above[key] = exceeded(model.groups[person.group], person, grant, over)
            if person.external is not None:  # 000: the PI and the requester hear of a new external account
                notices.setdefault(person.username, set()).update(account_notice(person, study))
        # 004 logs a role's redefinition even when nobody holds the role yet: the study records the version
        # of each of its custom roles, so that redefining one is a planned (and audited) study change
        state["studies"][sid]["roles"] = _role_digests(study, roles, versions)
    diags.extend(_hidden_query_warnings(model, env, state, roles))
    return EnvironmentState(
        env,
        as_of,
        state,
        sources,
        excluded,
        tuple(diags),
        frozen_map({u: tuple(sorted(n)) for u, n in notices.items()}),
        frozen_map(above),
        frozen_map(unqualified),
    )


def _role_digests(
    study: Study,
    roles: Mapping[tuple[str, str], EffectiveRole],
    versions: dict[tuple[str, str], tuple[str, dict[str, Any]]],
) -> dict[str, str]:
    """Custom role id -> the digest of its version (the one in its role refs), granted or not."""
    out = {}
    for rid in sorted(study.roles):
        version = versions.get((study.id, rid))
        if version is None:
            role = roles.get((study.id, rid))
            if role is None:  # granted to nobody: resolved here, only for its version
                cat = catalog(study.system)
                assert cat is not None  # a study's system is one with a catalog (validated)
                role = effective_role(study, cat, rid)
            if role is None:
                continue
            version = versions[study.id, rid] = role_version(role)
        out[rid] = version[0].rpartition("#")[2]
    return out


def _over_ceiling(model: Model, group_id: str, study_id: str, role: EffectiveRole) -> list[Over]:
    """002/004: the rights of a role that exceed a group's ceiling (generic, and REDCap keys)."""
    group = model.groups.get(group_id)
    if group is None:
        return []
    return over_ceiling(group_ceiling(group), role.rights, role.redcap)


def _hidden_query_warnings(
    model: Model, env: str, state: EffectiveState, roles: Mapping[tuple[str, str], EffectiveRole]
) -> list[Diagnostic]:
    """The people holding each custom role, for rules.policy's queries-hidden (001)."""
    holders: dict[str, list[str]] = {}
    for grant in state["grants"].values():
        if usable(grant):
            holders.setdefault(f"{grant['study']}/{grant['role']}", []).append(grant["user"])
    return queries_hidden(model, env, holders, roles)
