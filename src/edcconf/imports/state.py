"""`edcconf state import`: the state an environment is in, built from the systems' own files.

This is import's proof: the declarations an import wrote must resolve to exactly the state these files
describe, so `plan` after `state import` shows no changes. Groups, memberships, roles and sites come
from the files (through the same rule engine that resolves declarations); what a file cannot say (a
study's forms, a person's expiry) comes from the configuration.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from ..catalogs import catalog
from ..diagnostics import UserError
from ..pipeline import load_desired
from ..providers.bulk import ceiling_from_sag
from ..resolve.effective import account_value, role_version
from ..resolve.roles import effective_role
from ..state.record import next_record
from ..providers.bulk import NO_RIGHTS
from ..rules.ceilings import effective_ceiling
from . import builtin_no_rights, read_group_files, refuse_errors


def _group_value(name: str, ident_key: str, ident: str, rights: dict) -> dict:
    """A group as a SAG or ACG row says it is: its whole effective ceiling (rules.ceilings)."""
    ceiling = effective_ceiling(*ceiling_from_sag(rights))
    value = {"ceiling": dict(ceiling.rights), "redcap_ceiling": dict(ceiling.keys), "message": None,
             "description": name}
    if ident:
        value[ident_key] = ident
    return value


def groups_state(root: Path, env: str, as_of: date, kind: str, defs_path: Path, assign_path: Path) -> dict:
    """Groups and accounts as SAG or ACG files say; the rest of the desired state as it is."""
    files = read_group_files(kind, defs_path, assign_path)
    refuse_errors(files.diagnostics, "the files")
    ident_key = files.ident_key
    desired = load_desired(root, as_of, [env])
    model = desired.model
    state = {k: dict(v) for k, v in desired.resolution.environments[env].state.items()}
    group_of_ident: dict[str, str] = {}
    for ident, name, rights in files.definitions:
        if builtin_no_rights(kind, ident, rights):
            group_of_ident[ident] = NO_RIGHTS
            continue
        gid = next((g.id for g in model.groups.values() if ident and getattr(g, ident_key) == ident), None) or next(
            (g.id for g in model.groups.values() if (g.description or g.id) == name and not g.builtin), None)
        if gid is None:
            raise UserError(f"group {name!r} ({ident or 'new'}) of {defs_path} is not declared: run `edcconf import "
                            f"{kind}` first", code="import-missing")
        declared = model.groups[gid]
        from_file = _group_value(name, ident_key, ident if getattr(declared, ident_key) else "", rights)
        if declared.description is None:
            from_file.pop("description")
        if kind == "acg":  # an ACG file has no external-module configuration column: that key stays as declared
            from_file["redcap_ceiling"]["external_module_config"] = declared.redcap_ceiling.get("external_module_config", 0)
        # what the file cannot say (the other system's id, the group's message) stays as declared
        state["groups"][gid] = {**state["groups"].get(gid, {}), **from_file,
                                "message": state["groups"].get(gid, {}).get("message")}
        group_of_ident[ident or name] = gid
    for username, ident, email, name, _line in files.assignments:
        person = model.people.get(username)
        if person is None:
            raise UserError(f"{username} of {assign_path} is not declared: run `edcconf import {kind}` first",
                            code="import-missing")
        value = account_value(person)
        value["group"] = group_of_ident.get(ident, value["group"])
        if email:
            value["email"] = email
        if name:
            value["name"] = name
        state["accounts"][username] = value
    return state


def vault_state(root: Path, env: str, as_of: date, path: Path, study_id: str) -> dict:
    """The study's grants as the Vault file says, resolved with the study's forms and roles."""
    from .vault import access_entries, read_for_study, vault_study

    desired = load_desired(root, as_of, [env])
    model = desired.model
    study = vault_study(model, study_id)
    parsed, diags = read_for_study(model, study, path)
    entries, problems = access_entries(study, parsed.rows, str(path))
    refuse_errors(list(diags) + problems, str(path))
    state = {k: dict(v) for k, v in desired.resolution.environments[env].state.items()}
    state["grants"] = {k: v for k, v in state["grants"].items() if v["study"] != study_id}
    cat = catalog("vault")
    by_user = {row.user_name: row for row in parsed.rows}
    for user, entry in entries.items():
        if entry["environments"] != "all" and env not in entry["environments"]:
            continue
        person = model.people.get(user)
        role = effective_role(study, cat, entry["role"])
        if person is None or role is None:
            raise UserError(f"{user} or role {entry['role']} is not declared: run `edcconf import vault` first",
                            code="import-missing")
        ref, value = role_version(role)
        state["roles"][ref] = value
        if entry.get("sites") == "all":
            sites, scope = sorted(study.sites), {"site_access": "all"}
        elif "countries" in entry:
            wanted = set(entry["countries"])
            sites = sorted(s for s in study.sites if s in model.sites and model.sites[s].country in wanted)
            scope = {"site_access": "countries", "countries": sorted(wanted)}
        else:
            sites, scope = sorted(entry["sites"]), {"site_access": "sites"}
        state["grants"][f"{study_id}/{user}"] = {
            "study": study_id, "user": user, "role": entry["role"], "base_role": role.base.id, "sites": sites,
            **scope, "expires": person.expires.isoformat() if person.expires else None, "role_ref": ref}
        account = account_value(person)
        row = by_user[user]
        account.update(email=row.email, name=f"{row.first_name} {row.last_name}".strip())
        state["accounts"][user] = account
    used = {g["role_ref"] for g in state["grants"].values()}
    state["roles"] = {k: v for k, v in state["roles"].items() if k in used}
    return state


def write_state(root: Path, env: str, effective: dict, note: str):
    """A new state version for the environment, under its lock, with an audit entry."""
    from ..apply import git_commit
    from ..state import open_backend
    from ..state.locking import actor
    from ..workflow import environment_of, read_recovered

    environment = environment_of(root, env)
    backend = open_backend(root, environment)
    read_recovered(backend)
    with backend.lock("state import"):
        current = backend.read()
        record = next_record(current, effective, current.sources, git_commit(root), actor(),
                             {"add": 0, "change": 0, "revoke": 0}, note)
        backend.write(record, expected_serial=current.serial)
        backend.append_audit([{"event": "state-import", "actor": actor(), "environment": env, "serial": record.serial,
                               "lineage": record.lineage, "note": note, "time": record.applied_at}])
    return record
