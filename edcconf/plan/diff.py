"""Keyed diff of desired vs applied effective state, in dependency order, each change with its reason.

Diffing works on effective values, never on YAML, so moving a declaration to another file plans
nothing. Accounts are never deleted: an account that disappears is deactivated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from ..resolve.effective import EnvironmentState, expand_grant
from ..rules.external import admin_accounts, agreement_notice
from .model import Action, Change, Kind, Plan

# Dependency order: what others rely on is created first and removed last (site before site access,
# account before grant, revoke before deactivate). A change of the environment's guards comes first, so
# that a reviewer reads it before what it would let through (plan/brakes.py).
_ORDER: list[tuple[Kind, Action]] = [
    ("environment", "update"),
    ("site", "create"),
    ("site", "update"),
    ("group", "create"),
    ("group", "update"),
    ("study", "create"),
    ("study", "update"),
    ("account", "create"),
    ("account", "reactivate"),
    ("account", "update"),
    ("grant", "revoke"),
    ("grant", "update"),
    ("grant", "create"),
    ("account", "deactivate"),
    ("study", "revoke"),
    ("group", "revoke"),
    ("site", "revoke"),
]
_RANK = {step: i for i, step in enumerate(_ORDER)}
_ENTITY_KINDS: tuple[tuple[Kind, str], ...] = (("site", "sites"), ("group", "groups"), ("study", "studies"))


def make_plan(
    desired: EnvironmentState,
    applied: Mapping[str, Any],
    applied_sources: Mapping[str, str],
    serial: int,
    lineage: str | None,
    warnings: tuple[Any, ...] = (),
) -> Plan:
    changes = entity_changes(desired.state, applied, desired.sources, applied_sources, desired.notices)
    changes.extend(grant_changes(desired, applied, applied_sources))
    studies = {**applied.get("studies", {}), **desired.state.get("studies", {})}
    systems = {k: v.get("system") for k, v in studies.items()}
    return ordered_plan(desired.environment, serial, lineage, desired.as_of, changes, warnings, systems)


def entity_changes(
    want: Mapping[str, Any],
    have: Mapping[str, Any],
    sources: Mapping[str, Any],
    old_sources: Mapping[str, Any],
    notices: Mapping[str, tuple[str, ...]],
) -> list[Change]:
    """Changes of sites, groups, studies and accounts (every section but grants and roles)."""
    changes: list[Change] = []
    for kind, section in _ENTITY_KINDS:
        changes.extend(_entities(kind, want.get(section, {}), have.get(section, {}), sources, old_sources))
    changes.extend(_accounts(want.get("accounts", {}), have.get("accounts", {}), sources, old_sources, notices))
    return changes


def grant_changes(desired: EnvironmentState, have: Mapping[str, Any], old_sources: Mapping[str, Any]) -> list[Change]:
    """Changes of grants: each key of desired.state["grants"] and have["grants"] on its own, so the grants
    of one study can be diffed alone (with that study's roles and sources) and give the same changes."""
    return _grants(desired, have, old_sources)


def ordered_plan(
    environment: str,
    serial: int,
    lineage: str | None,
    as_of: date,
    changes: list[Change],
    warnings: tuple[Any, ...] = (),
    systems: Mapping[str, str] | None = None,
) -> Plan:
    """systems: study -> EDC system, to tell OpenClinica invitations (see `invitations`)."""
    changes = invitations(changes, systems or {})
    changes = sorted(changes, key=lambda c: (_RANK[(c.kind, c.action)], c.study or "", c.key))
    return Plan(environment, serial, lineage, as_of, tuple(changes), warnings)


def invitations(changes: list[Change], systems: Mapping[str, str]) -> list[Change]:
    """OpenClinica (001, "Inviting Users"): access to a study is given by an invitation. For a person new to
    edcconf it creates the user ("Invite a new user"); for an account that already exists (it is not
    created by this plan) it is an invitation of an existing user, sent again by e-mail. Such a grant stays a
    `create` (the plan format's actions) marked `invite`, which the text, markdown and the checklist show as "invite".
    Computed from the plan alone, so the incremental plan marks the same changes."""

    new_accounts = {c.key for c in changes if c.kind == "account" and c.action == "create"}
    out = []
    for c in changes:
        if (
            c.kind == "grant"
            and c.action == "create"
            and not c.invite
            and c.after
            and c.study is not None
            and systems.get(c.study) == "openclinica"
            and c.after.get("user") not in new_accounts
        ):
            c = replace(c, invite=True, reason=f"{c.reason} (invite: {c.after.get('user')} has an account already)")
        out.append(c)
    return out


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """One line per changed field, e.g. "form vitals: edit → read" or "ceiling.data_export: none → full"."""
    lines: list[str] = []
    nested = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            nested.append(key)
        else:
            lines.append(f"{key}: {_show(old)} → {_show(new)}")
    if nested:
        from deepdiff import DeepDiff  # only updates need field-level detail; it is slow to import

        diff = DeepDiff({k: before[k] for k in nested}, {k: after[k] for k in nested}, view="tree")
        for items in diff.values():
            for item in items:
                path = item.path(output_format="list")
                label = f"form {path[1]}" if path[0] == "forms" and len(path) == 2 else ".".join(map(str, path))
                lines.append(f"{label}: {_show(_absent(item.t1))} → {_show(_absent(item.t2))}")
    return sorted(lines, key=lambda line: (line.startswith("form "), line))


def _absent(value: Any) -> Any:
    return None if type(value).__name__ == "NotPresent" else value


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "(none)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)


def _removed_from(sources: Mapping[str, str], key: str) -> str:
    where = sources.get(key, "")
    return f"removed from {where.rsplit(':', 1)[0]}" if where else "no longer declared"


def _entities(
    kind: Kind,
    want: Mapping[str, Any],
    have: Mapping[str, Any],
    sources: Mapping[str, Any],
    old_sources: Mapping[str, Any],
) -> list[Change]:
    out = []
    for key in want.keys() - have.keys():
        out.append(
            Change(
                "create",
                kind,
                key,
                None,
                want[key],
                f"new {kind}",
                sources.get(f"{kind}:{key}", ""),
                study=key if kind == "study" else None,
                stored=want[key],
            )
        )
    for key in have.keys() - want.keys():
        out.append(
            Change(
                "revoke",
                kind,
                key,
                have[key],
                None,
                _removed_from(old_sources, f"{kind}:{key}"),
                old_sources.get(f"{kind}:{key}", ""),
                study=key if kind == "study" else None,
            )
        )
    for key in want.keys() & have.keys():
        if want[key] != have[key]:
            if kind == "study":
                details = _study_details(have[key], want[key])
                if not details:
                    continue
            else:
                details = field_changes(have[key], want[key])
            out.append(
                Change(
                    "update",
                    kind,
                    key,
                    have[key],
                    want[key],
                    "; ".join(details),
                    sources.get(f"{kind}:{key}", ""),
                    study=key if kind == "study" else None,
                    details=tuple(details),
                    stored=want[key],
                )
            )
    return out


def _study_details(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """A study's changed fields, its custom roles' versions said as what happened to each role (004 logs a
    role's redefinition, held by anyone or not). A study recorded before role versions were kept (no
    `roles`) is not compared on them: its roles are recorded with its next change."""
    old_roles, new_roles = before.get("roles"), after.get("roles") or {}
    lines = field_changes(
        {k: v for k, v in before.items() if k != "roles"}, {k: v for k, v in after.items() if k != "roles"}
    )
    if old_roles is None:
        return lines
    for role in sorted(set(old_roles) | set(new_roles)):
        if role not in old_roles:
            lines.append(f"role {role} defined")
        elif role not in new_roles:
            lines.append(f"role {role} removed")
        elif old_roles[role] != new_roles[role]:
            lines.append(f"role {role} redefined")
    return lines


def _accounts(
    want: Mapping[str, Any],
    have: Mapping[str, Any],
    sources: Mapping[str, Any],
    old_sources: Mapping[str, Any],
    notices: Mapping[str, tuple[str, ...]],
) -> list[Change]:
    out: list[Change] = []
    admins = admin_accounts(want)  # once: each external account's notice names them
    new_by_email = {_email(v): k for k, v in want.items() if k not in have and _email(v)}
    for name in want.keys() | have.keys():
        new, old = want.get(name), have.get(name)
        src = sources.get(f"account:{name}", "")
        if old is None:
            assert new is not None  # the name is in want or in have
            if new["status"] == "active":
                reason = f"new external account ({new['external']})" if new.get("external") else "new account"
                out.append(
                    Change(
                        "create",
                        "account",
                        name,
                        None,
                        new,
                        reason,
                        src,
                        stored=new,
                        notify=notices.get(name, ()) if new.get("external") else (),
                        agreement_notify=agreement_notice(want, name, admins),
                    )
                )
            continue
        if new is None:
            if old["status"] == "active":
                after = {**old, "status": "deactivated"}
                renamed = new_by_email.get(_email(old)) if _email(old) else None
                reason = (
                    f"username {name} → {renamed} (same e-mail): usernames never change, so {name} is "
                    f"deactivated and {renamed} is a new account"
                    if renamed
                    else f"{_removed_from(old_sources, f'account:{name}')}; accounts are never deleted, only deactivated"
                )
                out.append(
                    Change(
                        "deactivate",
                        "account",
                        name,
                        old,
                        after,
                        reason,
                        old_sources.get(f"account:{name}", ""),
                        stored=after,
                    )
                )
            continue
        if new == old:
            continue
        details = tuple(field_changes(old, new))
        if old["status"] == "active" and new["status"] == "deactivated":
            out.append(
                Change(
                    "deactivate", "account", name, old, new, f"deactivated at {src}", src, details=details, stored=new
                )
            )
        elif old["status"] == "deactivated" and new["status"] == "active":
            out.append(
                Change(
                    "reactivate", "account", name, old, new, f"reactivated at {src}", src, details=details, stored=new
                )
            )
        else:
            recorded = new.get("agreement_signed") != old.get("agreement_signed")  # 000 step 4
            out.append(
                Change(
                    "update",
                    "account",
                    name,
                    old,
                    new,
                    "; ".join(details),
                    src,
                    details=details,
                    stored=new,
                    agreement_notify=agreement_notice(want, name, admins) if recorded else (),
                )
            )
    gone_by_email: dict[str, str] = {}  # the first active account of each e-mail that is no longer wanted
    for k, v in have.items():
        if k not in want and v["status"] == "active" and _email(v):
            gone_by_email.setdefault(_email(v), k)
    for i, change in enumerate(out):  # say on the new account too that it replaces a renamed one
        old_name = gone_by_email.get(_email(change.after)) if change.action == "create" else None
        if old_name:
            out[i] = _with_reason(change, f"new account replacing {old_name} (same e-mail; usernames never change)")
    return out


def _email(account: Mapping[str, Any]) -> str:
    """An account's e-mail for telling a renamed username; "" when the person has none (yet)."""
    return (account.get("email") or "").lower()


def _with_reason(change: Change, reason: str) -> Change:
    return replace(change, reason=reason)


def _grants(desired: EnvironmentState, have: Mapping[str, Any], old_sources: Mapping[str, Any]) -> list[Change]:
    want_state = desired.state
    want, old = want_state.get("grants", {}), have.get("grants", {})
    out: list[Change] = []
    for key, new_value, old_value in _both(want, old):
        if new_value is not None and old_value is not None and new_value == old_value:
            continue  # same role version, sites and expiry: nothing to expand or compare
        after, before = expand_grant(want_state, new_value), expand_grant(have, old_value)
        src = desired.sources.get(f"grant:{key}", "")
        study = (new_value or old_value)["study"]
        role = (new_value["role_ref"], want_state["roles"][new_value["role_ref"]]) if new_value else None
        if before is None:
            assert after is not None  # no grant before: there is one after
            sites = ", ".join(after["sites"])
            off = " with study status disabled (on record in Vault, no access)" if "study_status" in after else ""
            out.append(
                Change(
                    "create",
                    "grant",
                    key,
                    None,
                    after,
                    f"granted {after['role']} at {sites}{off}",
                    src,
                    study=study,
                    stored=new_value,
                    role=role,
                )
            )
        elif after is None:
            why = desired.excluded.get(key)
            reason = why.reason if why else _removed_from(old_sources, f"grant:{key}")
            source = str(why.loc) if why else old_sources.get(f"grant:{key}", "")
            out.append(Change("revoke", "grant", key, before, None, reason, source, study=study))
        elif before != after:
            details = tuple(_grant_details(before, after))
            out.append(
                Change(
                    "update",
                    "grant",
                    key,
                    before,
                    after,
                    "; ".join(details),
                    src,
                    study=study,
                    details=details,
                    stored=new_value,
                    role=role,
                )
            )
        else:  # only the role version's digest moved (e.g. a form was renamed away and back)
            out.append(
                Change(
                    "update",
                    "grant",
                    key,
                    before,
                    after,
                    "role definition refreshed",
                    src,
                    study=study,
                    stored=new_value,
                    role=role,
                )
            )
    return out


def _both(want: Mapping[str, Any], old: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(key, desired, applied) for each key of either, None where absent. Walks both dicts in their own
    order: iterating a set union of 200,000 keys looked each grant up in random memory order, three
    times slower. The order is free: ordered_plan sorts the changes by kind, study and key."""
    for key, new_value in want.items():
        yield key, new_value, old.get(key)
    for key, old_value in old.items():
        if key not in want:
            yield key, None, old_value


def _grant_details(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    lines = []
    if before["role"] != after["role"]:
        lines.append(f"role {before['role']} → {after['role']}")
    if before.get("study_status") != after.get("study_status"):  # Vault's Study Status (003)
        lines.append(
            "study status disabled: on record in Vault, no access"
            if after.get("study_status")
            else "study status enabled: access restored"
        )
    skip = {"role", "close_queries", "sdv", "study_status"}
    lines += [
        line
        for line in field_changes(
            {k: v for k, v in before.items() if k not in skip}, {k: v for k, v in after.items() if k not in skip}
        )
        if not line.startswith("base_role") or before["base_role"] != after["base_role"]
    ]
    for ability in ("close_queries", "sdv"):
        gained = sorted(set(after[ability]) - set(before[ability]))
        lost = sorted(set(before[ability]) - set(after[ability]))
        if gained:
            lines.append(f"{ability.replace('_', ' ')} gained on {', '.join(gained)}")
        if lost:
            lines.append(f"{ability.replace('_', ' ')} lost on {', '.join(lost)}")
    return lines
