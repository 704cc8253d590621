"""Import a Veeva Vault study user file (003) into one study: people and their access entries."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

from ..catalogs import required_catalog
from ..diagnostics import Loc, error, warning
from ..interchange.vault import ALL_ENVIRONMENTS, VaultUser, read_vault_users
from ..model import Model, Study
from ..rules import imports as imports_rules
from ..rules import interchange as interchange_rules
from . import ImportResult, _place_people, current_model, refuse_errors, study_of_system


def role_names(study: Study) -> dict[str, str]:
    """Vault Study Role name -> role id: the study's custom roles by id, standard roles by Vault's label
    (and by their catalog id)."""
    cat = required_catalog("vault")
    names = {r.label: r.id for r in cat.roles.values()}
    names.update({r.id: r.id for r in cat.roles.values()})
    names.update({rid: rid for rid in study.roles})
    return names


def vault_study(model: Model, study_id: str) -> Study:
    return study_of_system(model, study_id, "vault", "import vault")


USER_EXISTS = interchange_rules.USER_EXISTS_APPLYING_STUDY_ACCESS.code


def read_for_study(model: Model, study: Study, path: Path, *, existing: bool = False):
    """The file's rows, checked as Vault checks them for this study. With `existing`, a row whose user is
    already a declared person gets Vault's warning "User exists. Applying Study access." (003: Vault
    creates no new user then, it only adds the user to the study; so does `import vault`)."""
    countries = {model.sites[s].country for s in study.sites if s in model.sites}
    people = {p.username.casefold(): p for p in model.people.values()} if existing else {}
    parsed = read_vault_users(
        Path(path).read_bytes(),
        str(path),
        sites=set(study.sites),
        countries=countries,
        roles=set(role_names(study)),
        environments=set(study.environments),
        existing_users=set(people) if existing else None,
    )
    rows = {(r.file, r.line): r for r in parsed.rows}
    out = []
    for d in parsed.diagnostics:
        if d.code == interchange_rules.DUPLICATE_USER_RECORD.code:
            # Vault warns about a duplicate row and keeps one; an import that guessed which would hide a mistake.
            d = error(d.code, d.message, d.loc)
        elif d.code == USER_EXISTS:
            row = rows.get((d.loc.file, d.loc.line))
            person = people.get(row.user_name.casefold()) if row else None
            if row is not None and person is not None:
                d = warning(
                    USER_EXISTS,
                    f"User exists. Applying Study access.: {row.user_name} is already declared "
                    f"({person.loc}); no person is created, only the row's access to {study.id} is "
                    "declared",
                    d.loc,
                    vault="User exists. Applying Study access.",
                )
        out.append(d)
    return parsed, out


def row_loc(path: str, row: VaultUser) -> Loc:
    return Loc(row.file or path, row.line)


def access_entries(study: Study, rows: tuple[VaultUser, ...], path: str) -> tuple[dict[str, dict], list]:
    """username -> access entry, merging one row per environment into one entry."""
    names = role_names(study)
    entries: dict[str, dict] = {}
    problems = []
    for row in rows:
        loc = row_loc(path, row)
        if row.study_status != "Enabled":
            seen = f" (last login {row.last_login})" if row.last_login else ""  # shown, never declared from
            problems.append(
                warning(
                    imports_rules.IMPORT_DISABLED.code,
                    f"{row.user_name} has Study Status {row.study_status}{seen}: "
                    "declared with study_status: disabled (on record in Vault, no access)",
                    loc,
                )
            )
        entry: dict[str, object] = {"user": row.user_name, "role": names[row.study_role]}
        envs = "all" if row.study_environment in ("", ALL_ENVIRONMENTS) else [row.study_environment]
        if row.site_access:
            scope: dict[str, object] = {"sites": sorted(row.site_access)}
        elif row.country_access:
            scope = {"countries": sorted(row.country_access)}
        else:
            scope = {"sites": "all"}
        entry.update({"environments": envs, **scope})
        if row.study_status != "Enabled":
            entry["study_status"] = "disabled"  # 003: Vault keeps the user's role and sites, without access
        have = entries.get(row.user_name)
        if have is None:
            entries[row.user_name] = entry
        elif {k: v for k, v in have.items() if k != "environments"} != {
            k: v for k, v in entry.items() if k != "environments"
        }:
            problems.append(
                error(
                    interchange_rules.CSV_DUPLICATE_ROW.code,
                    f"{row.user_name} has different roles, sites or Study Status in "
                    "different environments; edcconf declares one role per person and study",
                    loc,
                )
            )
        elif have["environments"] != "all" and envs != "all":
            have["environments"] = sorted(set(cast(list, have["environments"])) | set(envs))
    for entry in entries.values():
        if entry["environments"] != "all" and set(cast(list, entry["environments"])) == set(study.environments):
            entry["environments"] = "all"
    return entries, problems


def import_vault(root: Path, paths: Path | Sequence[Path], study_id: str, group: str | None) -> ImportResult:
    """One study's file, or all the parts edcconf split it into (vault-users-001.csv, -002.csv, ...), read
    as one file: each row keeps its own file and line."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    path = ", ".join(map(str, paths))
    model = current_model(root)
    study = vault_study(model, study_id)
    rows: list[VaultUser] = []
    diags: list = []
    for one in paths:
        parsed_one, found = read_for_study(model, study, one, existing=True)
        rows += parsed_one.rows
        diags += found
    result = ImportResult(path, diagnostics=list(diags))
    refuse_errors(result.diagnostics, f"{path}")
    entries, problems = access_entries(study, tuple(rows), str(paths[0]))
    result.diagnostics += problems
    declared = {g.user: g for g in study.access}
    people = []
    for row in rows:
        if row.user_name in model.people or row.user_name not in entries:
            continue
        loc = row_loc(str(path), row)
        if group is None or group not in model.groups:
            result.diagnostics.append(
                error(
                    imports_rules.IMPORT_GROUP.code,
                    f"{row.user_name} is not declared yet: name the group "
                    "new people join with --group (an existing group id)",
                    loc,
                )
            )
            continue
        people.append((row.user_name, group, row.email, f"{row.first_name} {row.last_name}".strip(), loc))
    _place_people(result, model, people, {})
    for user, entry in sorted(entries.items()):
        if user in declared:
            result.diagnostics.append(
                warning(
                    imports_rules.IMPORT_CONFLICT.code,
                    f"{user} already has access declared in {study.id} ({declared[user].loc}); left as it is",
                    Loc(str(path)),
                )
            )
            continue
        result.grants.setdefault(study.id, []).append(entry)
    refuse_errors(result.diagnostics, f"{path}")
    return result
