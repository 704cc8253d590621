"""`explain USER`: why a person has each level, down to the file and line that caused it.

For every environment and study: the grant (file:line) → the role (custom, file:line) → its base role →
per form the level and the rule that decided it (tag, contact-form or untagged default, file:line) →
the ceiling check against the person's group. A person without access is explained too: not granted,
expired, deactivated, or granted in another environment.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..diagnostics import UserError, suggest
from ..pipeline import Desired
from ..rules import references as references_rules
from ..rules.admins import IMPLICIT, IMPLICIT_REASON
from ..rules.ceiling_values import create_projects, group_ceiling, over_ceiling


def explain(
    desired: Desired, user: str, studies: Iterable[str] = (), envs: Iterable[str] = (), forms: Iterable[str] = ()
) -> dict:
    model, resolution = desired.model, desired.resolution
    person = model.people.get(user)
    if person is None:
        raise UserError(
            f"unknown user {user!r}{suggest(user, model.people)}", code=references_rules.UNKNOWN_REFERENCE.code
        )
    wanted_studies, wanted_envs, wanted_forms = set(studies), set(envs), set(forms)
    for name, known, what in (
        (wanted_studies, model.studies, "study"),
        (wanted_envs, model.environments, "environment"),
    ):
        for item in name - set(known):
            raise UserError(
                f"unknown {what} {item!r}{suggest(item, known)}", code=references_rules.UNKNOWN_REFERENCE.code
            )
    group = model.groups.get(person.group)
    may, why = create_projects(group_ceiling(group)) if group else (False, "the person is in no group")
    out: dict[str, Any] = {
        "format_version": 1,
        "user": user,
        "person": {
            "name": person.name,
            "email": person.email,
            "type": person.type,
            "status": person.status,
            "group": person.group,
            "expires": person.expires.isoformat() if person.expires else None,
            "external": person.external.organization if person.external else None,
            "source": str(person.loc),
        },
        # derived abilities of the person (not of a grant): 002, a ceiling below full User Rights
        "abilities": {"create_projects": {"value": may, "reason": why, "source": str(group.loc) if group else None}},
        "as_of": resolution.as_of.isoformat(),
        "environments": [],
    }
    for env_name, env_state in resolution.environments.items():
        if wanted_envs and env_name not in wanted_envs:
            continue
        entries = []
        for study in model.studies.values():
            if (wanted_studies and study.id not in wanted_studies) or env_name not in study.environments:
                continue
            # one entry per role the person holds in the study (a different role per site: roles per site)
            keys = list(dict.fromkeys(g.key for g in study.access if g.user == user)) or [f"{study.id}/{user}"]
            admin = user in env_state.state["studies"].get(study.id, {}).get("admins", ())
            views = [
                _admin_view(
                    _entry(resolution, env_state, study, key, person, group, wanted_studies, wanted_forms),
                    admin,
                    study.id,
                    person,
                )
                for key in keys
            ]
            found = [e for e in views if e is not None]
            if any(e["access"] for e in found):
                # a role of the person declared for other environments only says nothing about this one
                found = [e for e in found if e["access"] or not e["reason"].startswith("not granted in")]
            entries.extend(found)
        if entries:
            out["environments"].append({"environment": env_name, "studies": entries})
    return out


def _admin_view(entry: dict | None, admin: bool, study_id: str, person) -> dict | None:
    """001: an admin sees the study whatever they are granted (marked as implicit access)."""
    if not admin:
        return entry
    if entry is None:
        return {
            "study": study_id,
            "access": False,
            "reason": IMPLICIT_REASON,
            "source": str(person.loc),
            "implicit": IMPLICIT,
            "implicit_reason": IMPLICIT_REASON,
        }
    entry = {**entry, "implicit": IMPLICIT, "implicit_reason": IMPLICIT_REASON}
    if not entry["access"]:
        entry["reason"] = IMPLICIT_REASON + (
            "" if entry["reason"] == "not granted" else f"; no grant: {entry['reason']}"
        )
    return entry


def _entry(
    resolution, env_state, study, key: str, person, group, wanted_studies: set, wanted_forms: set
) -> dict | None:
    """What one grant (or its absence) gives the person in one study and environment."""
    grant = env_state.state["grants"].get(key)
    if grant is None:
        declared = any(g.key == key for g in study.access)
        why = env_state.excluded.get(key)
        if why is None and not declared and not wanted_studies:
            return None  # not mentioned in this study at all: nothing to explain
        return {
            "study": study.id,
            "access": False,
            "reason": why.reason if why else "not granted",
            "source": str(why.loc) if why else None,
        }
    role = resolution.roles[(study.id, grant["role"])]
    if grant.get("study_status") == "disabled":  # 003: on record in Vault, no access
        return {
            "study": study.id,
            "access": False,
            "study_status": "disabled",
            "reason": f"study status disabled: Vault keeps {grant['role']} at {', '.join(grant['sites'])} on "
            "record, with no access to the study",
            "source": env_state.sources.get(f"grant:{key}"),
            "grant": {
                "source": env_state.sources.get(f"grant:{key}"),
                "role": grant["role"],
                "base_role": role.base.id,
                "sites": grant["sites"],
                "expires": grant["expires"],
            },
        }
    form_rows = [
        {
            "form": fid,
            "level": rule.level,
            "rule": rule.rule,
            "source": str(rule.loc) if rule.loc else f"catalog {study.system}/{role.base.id}",
            "close_queries": fid in role.close_queries,
            "sdv": fid in role.sdv,
        }
        for fid, rule in role.rules.items()
        if not wanted_forms or fid in wanted_forms
    ]
    over = (
        [
            {"right": r, "granted": g, "allowed": a}
            for r, g, a in over_ceiling(group_ceiling(group), role.rights, role.redcap)
        ]
        if group
        else []
    )
    return {
        "study": study.id,
        "access": True,
        "system": study.system,
        "grant": {
            "source": env_state.sources.get(f"grant:{key}"),
            "role": grant["role"],
            "role_source": str(role.custom.loc) if role.custom else None,
            "base_role": role.base.id,
            "base_role_label": role.base.label,
            "sites": grant["sites"],
            "expires": grant["expires"],
        },
        "forms": form_rows,
        "ceiling": {
            "group": person.group,
            "source": str(group.loc) if group else None,
            "within": not over,
            "over": over,
        },
    }


def add_observed(doc: dict, model, observed_of) -> None:
    """Per environment where the person is in a Vault study, the Last Login that `state import ... vault`
    kept from Vault's export (003), when there is one: `observed_of(env)` reads the applied state's
    `observed` section (only for those environments)."""
    for env in doc["environments"]:
        if not any(getattr(model.studies.get(e["study"]), "system", None) == "vault" for e in env["studies"]):
            continue
        seen = observed_of(env["environment"]).get(doc["user"]) or {}
        if seen.get("vault_last_login"):
            env["vault_last_login"] = {
                "value": seen["vault_last_login"],
                "study": seen.get("study"),
                "source": seen.get("source"),
            }


def render_explain(doc: dict) -> str:
    p = doc["person"]
    email = f" <{p['email']}>" if p["email"] else " (no e-mail)"
    lines = [
        f"{doc['user']} — {p['name']}{email}, {p['type']}, {p['status']}, group {p['group']}"
        + (f", external ({p['external']})" if p["external"] else "")
        + (f", expires {p['expires']}" if p["expires"] else "")
        + f"  [{p['source']}]",
        f"as of {doc['as_of']}",
    ]
    for name, ability in doc.get("abilities", {}).items():
        lines.append(
            f"{name.replace('_', ' ')}: {'yes' if ability['value'] else 'no'} — {ability['reason']}"
            + (f"  [{ability['source']}]" if ability.get("source") else "")
        )
    lines.append("")
    if not doc["environments"]:
        lines.append("No access anywhere: not granted in any study.")
    for env in doc["environments"]:
        lines.append(f"In {env['environment']}:")
        if env.get("vault_last_login"):
            seen = env["vault_last_login"]
            lines.append(
                f"  Vault last login {seen['value']} (Vault's export of {seen['study']}, kept by state import"
                + (f"  [{seen['source']}])" if seen.get("source") else ")")
            )
        for entry in env["studies"]:
            where = f"  [{entry['source']}]" if entry.get("source") else ""
            if not entry["access"] and entry.get("implicit"):
                lines.append(f"  {entry['study']}: IMPLICIT access — {entry['reason']}{where}")
                continue
            if not entry["access"]:
                lines.append(f"  {entry['study']}: no access — {entry['reason']}{where}")
                continue
            g = entry["grant"]
            role = g["role"] + (
                f" (custom role at {g['role_source']}, from base role {g['base_role']})"
                if g["role_source"]
                else f" (base role {g['base_role_label']})"
            )
            lines.append(
                f"  {entry['study']}: granted at {g['source']} → role {role}"
                + ("; and IMPLICIT access as an admin" if entry.get("implicit") else "")
            )
            lines.append(f"    sites {', '.join(g['sites'])}" + (f", expires {g['expires']}" if g["expires"] else ""))
            for f in entry["forms"]:
                extras = ", ".join(x for x, on in (("closes queries", f["close_queries"]), ("SDV", f["sdv"])) if on)
                lines.append(
                    f"    {f['form']:<20} {f['level']:<7} ← {f['rule']}  [{f['source']}]"
                    + (f" ({extras})" if extras else "")
                )
            c = entry["ceiling"]
            if c["within"]:
                lines.append(f"    ceiling of group {c['group']}: within it  [{c['source']}]")
            else:
                over = "; ".join(f"{o['right']} {o['granted']} > {o['allowed']}" for o in c["over"])
                lines.append(f"    ceiling of group {c['group']}: EXCEEDED ({over})  [{c['source']}]")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
