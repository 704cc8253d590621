"""`edcconf state import`: the state an environment is in, built from the systems' own files.

This is import's proof: the declarations an import wrote must resolve to exactly the state these files
describe, so `plan` after `state import` shows no changes. Groups, memberships, roles and sites come
from the files (through the same rule engine that resolves declarations); what a file cannot say (a
study's forms, a person's expiry) comes from the configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path

from ..apply import git_commit, still_present
from ..catalogs import catalog
from ..diagnostics import UserError
from ..interchange.vault import ALL_ENVIRONMENTS
from ..pipeline import load_desired
from ..providers.bulk import NO_RIGHTS, ceiling_from_sag
from ..resolve.effective import account_value, role_version
from ..resolve.roles import effective_role
from ..resolve.sections import recorded
from ..rules import imports as imports_rules
from ..rules.ceiling_values import effective_ceiling
from ..state import open_backend
from ..state.locking import actor
from ..state.record import RECORD_SECTIONS, next_record
from ..workflow import environment_of, read_recovered
from . import builtin_no_rights, read_group_files, refuse_errors
from .vault import access_entries, read_for_study, vault_study


def _group_value(name: str, ident_key: str, ident: str, rights: dict) -> dict:
    """A group as a SAG or ACG row says it is: its whole effective ceiling (rules.ceilings)."""
    ceiling = effective_ceiling(*ceiling_from_sag(rights))
    value = {
        "ceiling": dict(ceiling.rights),
        "redcap_ceiling": dict(ceiling.keys),
        "message": None,
        "description": name,
    }
    if ident:
        value[ident_key] = ident
    return value


def groups_state(
    root: Path, env: str, as_of: date, kind: str, defs_path: Path, assign_path: Path
) -> Callable[[Mapping], dict]:
    """What SAG or ACG files say, as an edit of the state ENV has recorded: the groups the definitions
    name get the files' ceilings and the people the assignments name get their group (and e-mail and
    name where the file has them). Every study, grant, site and any other group or account stays exactly
    as recorded: the files say nothing about them."""
    files = read_group_files(kind, defs_path, assign_path)
    refuse_errors(files.diagnostics, "the files")
    ident_key = files.ident_key
    desired = load_desired(root, as_of, [env])
    model = desired.model
    desired_groups = desired.resolution.environments[env].state["groups"]
    groups: dict[str, dict] = {}
    group_of_ident: dict[str, str] = {}
    for ident, name, rights in files.definitions:
        if builtin_no_rights(kind, ident, rights):
            group_of_ident[ident] = NO_RIGHTS
            if NO_RIGHTS in desired_groups:  # REDCap's own no-rights group: every right 0, as declared
                groups[NO_RIGHTS] = desired_groups[NO_RIGHTS]
            continue
        gid = next((g.id for g in model.groups.values() if ident and getattr(g, ident_key) == ident), None) or next(
            (g.id for g in model.groups.values() if (g.description or g.id) == name and not g.builtin), None
        )
        if gid is None:
            raise UserError(
                f"group {name!r} ({ident or 'new'}) of {defs_path} is not declared: run `edcconf import {kind}` first",
                code=imports_rules.IMPORT_MISSING.code,
            )
        declared = model.groups[gid]
        from_file = _group_value(name, ident_key, ident if getattr(declared, ident_key) else "", rights)
        if declared.description is None:
            from_file.pop("description")
        if kind == "acg":  # an ACG file has no external-module configuration column: that key stays as declared
            from_file["redcap_ceiling"]["external_module_config"] = declared.redcap_ceiling.get(
                "external_module_config", 0
            )
        # what the file cannot say (the other system's id, the group's message) stays as declared
        groups[gid] = {**desired_groups.get(gid, {}), **from_file, "message": declared.message}
        group_of_ident[ident or name] = gid
    accounts: dict[str, dict] = {}
    for username, ident, email, name, _line in files.assignments:
        person = model.people.get(username)
        if person is None:
            raise UserError(
                f"{username} of {assign_path} is not declared: run `edcconf import {kind}` first",
                code=imports_rules.IMPORT_MISSING.code,
            )
        said = {"group": group_of_ident.get(ident, person.group)}
        said.update({k: v for k, v in (("email", email), ("name", name)) if v})
        accounts[username] = said

    def onto(recorded: Mapping) -> dict:
        state = {section: dict(recorded.get(section) or {}) for section in RECORD_SECTIONS}
        state["groups"].update(groups)
        for username, said in accounts.items():
            state["accounts"][username] = {
                **(state["accounts"].get(username) or account_value(model.people[username])),
                **said,
            }
        return state

    return onto


def vault_state(root: Path, env: str, as_of: date, paths: Sequence[Path], study_id: str) -> Callable[[Mapping], dict]:
    """What a Vault study's user file (or all its parts) says, as an edit of the state ENV has recorded:
    the study's grants become the rows' (a Disabled row records a grant with study_status
    disabled, an undeclared person's none), resolved with the study's forms
    and roles, and the people in the file get the file's e-mail and name. Every other study, grant and
    account stays exactly as recorded: the file says nothing about them, and a study never applied is
    not recorded as applied. The files are read and checked here; the edit runs under the state lock."""

    desired = load_desired(root, as_of, [env])
    model = desired.model
    study = vault_study(model, study_id)
    if env not in study.environments:
        raise UserError(
            f"{study_id} does not run in {env} (environments: {', '.join(study.environments)})",
            code=imports_rules.IMPORT_INVALID.code,
        )
    what = ", ".join(map(str, paths))
    rows, diags = [], []
    for path in paths:
        parsed, found = read_for_study(model, study, path)
        rows += parsed.rows
        diags += found
    entries, problems = access_entries(study, tuple(rows), str(paths[0]))
    refuse_errors(diags + problems, what)
    cat = catalog("vault")
    assert cat is not None  # shipped with edcconf
    grants, roles = {}, {}
    for user, entry in entries.items():
        if entry["environments"] != "all" and env not in entry["environments"]:
            continue
        person = model.people.get(user)
        role = effective_role(study, cat, entry["role"])
        if person is None and entry.get("study_status") == "disabled":
            continue  # an undeclared person's Disabled row gives no access: nothing to record
        if person is None or role is None:
            raise UserError(
                f"{user} or role {entry['role']} is not declared: run `edcconf import vault` first",
                code=imports_rules.IMPORT_MISSING.code,
            )
        ref, value = role_version(role)
        roles[ref] = value
        scope: dict[str, str | list[str]]
        if entry.get("sites") == "all":
            sites, scope = sorted(study.sites), {"site_access": "all"}
        elif "countries" in entry:
            wanted = set(entry["countries"])
            sites = sorted(s for s in study.sites if s in model.sites and model.sites[s].country in wanted)
            scope = {"site_access": "countries", "countries": sorted(wanted)}
        else:
            sites, scope = sorted(entry["sites"]), {"site_access": "sites"}
        grants[f"{study_id}/{user}"] = {
            "study": study_id,
            "user": user,
            "role": entry["role"],
            "base_role": role.base.id,
            "sites": sites,
            **scope,
            "expires": person.expires.isoformat() if person.expires else None,
            "role_ref": ref,
        }
        if entry.get("study_status") == "disabled":  # a Disabled row: on record in Vault, no access (003)
            grants[f"{study_id}/{user}"]["study_status"] = "disabled"
    # the people of the file's rows for ENV that are declared (an undeclared Disabled row records nothing)
    named = {
        row.user_name: {"email": row.email, "name": f"{row.first_name} {row.last_name}".strip()}
        for row in rows
        if row.user_name in model.people and row.study_environment in ("", ALL_ENVIRONMENTS, env)
    }
    # Vault's export adds Last Login (003), which Vault's import ignores: kept as an observation, never diffed
    seen = {
        row.user_name: {"vault_last_login": row.last_login, "study": study_id, "source": f"{row.file}:{row.line}"}
        for row in rows
        if row.last_login and row.user_name in model.people and row.study_environment in ("", ALL_ENVIRONMENTS, env)
    }
    return study_onto(model, study_id, grants, roles, desired.resolution.environments[env].state, named, seen)


def study_onto(
    model,
    study_id: str,
    grants: Mapping[str, dict],
    roles: Mapping[str, dict],
    desired_state: Mapping,
    named: Mapping[str, Mapping],
    observed: Mapping[str, Mapping] | None = None,
) -> Callable[[Mapping], dict]:
    """The edit that records one study as a source says it is: its grants (and the roles they use) replace
    the study's recorded ones, the people it names get what it says of them; every other study, grant and
    account stays exactly as recorded, and a study never applied is not recorded as applied."""

    def onto(recorded: Mapping) -> dict:
        state = {section: dict(recorded.get(section) or {}) for section in RECORD_SECTIONS}
        state["grants"] = {k: v for k, v in state["grants"].items() if v.get("study") != study_id}
        state["grants"].update(grants)
        state["roles"].update(roles)
        if study_id not in state["studies"]:  # the source shows the study exists; what it is comes from its declaration
            state["studies"][study_id] = desired_state["studies"][study_id]
        for site in state["studies"][study_id].get("sites", ()):
            if site not in state["sites"] and site in desired_state["sites"]:
                state["sites"][site] = desired_state["sites"][site]
        for user, said in named.items():
            state["accounts"][user] = account = {
                **(state["accounts"].get(user) or account_value(model.people[user])),
                **said,
            }
            group = account.get("group")  # an account comes with its group, as declared, when none is recorded
            if group and group not in state["groups"] and group in desired_state["groups"]:
                state["groups"][group] = desired_state["groups"][group]
        for user, facts in (observed or {}).items():  # what the source showed and edcconf does not manage
            state["observed"][user] = {**(state["observed"].get(user) or {}), **facts}
        used = {g.get("role_ref") for g in state["grants"].values()}
        state["roles"] = {k: v for k, v in state["roles"].items() if k in used}
        return state

    return onto


def write_state(root: Path, env: str, edit: Callable[[Mapping], dict], note: str):
    """A new state version for the environment, under its lock, with an audit entry: `edit` turns the
    effective state recorded now (read under the lock) into the one to record."""

    environment = environment_of(root, env)
    backend = open_backend(root, environment)
    read_recovered(backend)
    with backend.lock("state import"):
        current = backend.read()
        effective = recorded(edit(current.effective))
        sources = {k: v for k, v in current.sources.items() if still_present(k, effective)}
        record = next_record(
            current, effective, sources, git_commit(root), actor(), {"add": 0, "change": 0, "revoke": 0}, note
        )
        backend.commit(
            record,
            current.serial,
            [
                {
                    "event": "state-import",
                    "actor": actor(),
                    "environment": env,
                    "serial": record.serial,
                    "lineage": record.lineage,
                    "note": note,
                    "time": record.applied_at,
                }
            ],  # the version and its entry, one step
            base_lineage=current.lineage,
        )
    return record
