"""What a REDCap project holds, read once: users (every right, per-form levels with their delete and
survey bits), user roles, role assignments and data access groups, from the live API or from REDCap's
own CSV exports. Adoption (imports.redcap) and `state import` read projects only through this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..diagnostics import Diagnostic, Loc, warning
from ..interchange import redcap_versions as rv
from ..interchange.redcap_users import (
    read_redcap_dag_assignments,
    read_redcap_role_assignments,
    read_redcap_roles,
    read_redcap_users,
)
from ..providers.redcap_records import UserRecord, live_record


@dataclass(frozen=True)
class RoleSnapshot:
    unique_name: str
    label: str
    record: UserRecord  # the role's rights, as a record without a user


@dataclass(frozen=True)
class ProjectSnapshot:
    study: str
    version: str
    users: tuple[UserRecord, ...]  # each with the unique name of its role ("" for none)
    roles: Mapping[str, RoleSnapshot]  # unique role name -> role
    dags: Mapping[str, str]  # unique group name -> label
    people: Mapping[str, tuple[str, str]]  # username -> (e-mail, "first last")
    where: Mapping[str, Loc] = field(default_factory=dict)  # username -> where the user was read
    source: str = ""


def _people(raw: Mapping) -> tuple[str, str]:
    name = f"{raw.get('firstname') or ''} {raw.get('lastname') or ''}".strip()
    return str(raw.get("email") or ""), name


def from_live(provider, study: str, ignore: frozenset[str] = frozenset()) -> ProjectSnapshot:
    """Everything the project's API shows, read through the redcap provider (a refusal is a UserError)."""
    version = provider.read_version(study)
    raw_users = [u for u in provider.read_users_raw(study) if u.get("username") and str(u["username"]) not in ignore]
    in_role, labels = provider.read_user_roles(study)
    raw_roles = provider.read_project_roles(study)
    roles = {
        name: RoleSnapshot(
            name, str(r.get("role_label") or labels.get(name, name)), live_record({**r, "username": ""}, version)
        )
        for name, r in raw_roles.items()
    }
    users = tuple(replace(live_record(u, version), role=in_role.get(str(u["username"]), "")) for u in raw_users)
    dags = {unique: label for label, unique in provider.read_dags(study).items()}
    where = Loc(f"REDCap {study}")
    return ProjectSnapshot(
        study,
        version,
        users,
        roles,
        dags,
        {str(u["username"]): _people(u) for u in raw_users},
        {u.username: where for u in users},
        f"the REDCap project of {study}",
    )


def from_files(
    study: str,
    users_path: Path,
    roles_path: Path | None = None,
    assignments_path: Path | None = None,
    dag_path: Path | None = None,
    version: str | None = None,
) -> tuple[ProjectSnapshot, list[Diagnostic]]:
    """REDCap's own exports (User Rights, user roles, role assignments, DAG assignments), as REDCap 13-16
    write them: a column a version lacks reads as 0. Without `version`, the per-form codes say which
    scheme the file uses (15.6+ codes are 128 and up)."""

    parsed = read_redcap_users(Path(users_path).read_bytes(), str(users_path), version=version)
    diags = list(parsed.diagnostics)
    codes = {c for u in parsed.rows for c in u.forms.values()}
    version = version or ("15.6.0" if any(c >= 128 for c in codes) else "15.5.0")
    role_rows, assigned, dag_of = [], {}, {}
    if roles_path is not None:
        read = read_redcap_roles(Path(roles_path).read_bytes(), str(roles_path), version=version)
        diags += read.diagnostics
        role_rows = list(read.rows)
    if assignments_path is not None:
        read_a = read_redcap_role_assignments(Path(assignments_path).read_bytes(), str(assignments_path))
        diags += read_a.diagnostics
        assigned = {a.username: a.unique_role_name for a in read_a.rows}
        dag_of.update({a.username: a.data_access_group for a in read_a.rows if a.data_access_group})
    if dag_path is not None:
        read_d = read_redcap_dag_assignments(Path(dag_path).read_bytes(), str(dag_path))
        diags += read_d.diagnostics
        dag_of.update({a.username: a.redcap_data_access_group for a in read_d.rows})
    roles = {
        r.unique_role_name: RoleSnapshot(
            r.unique_role_name, r.role_label, _record("", r.rights, r.forms, r.forms_export, version)
        )
        for r in role_rows
        if r.unique_role_name
    }
    users, people, where, dags = [], {}, {}, {}
    for u in parsed.rows:
        dag = dag_of.get(u.username, u.data_access_group)
        label = u.extra.get("data_access_group_label") or dag
        if dag:
            dags[dag] = label
        role = assigned.get(u.username, "")
        if role and role not in roles:
            diags.append(
                warning(
                    "csv-unknown-value",
                    f"{u.username} is in user role {role}, which "
                    f"{roles_path or 'no roles file'} does not define; their own rights are used",
                    Loc(str(users_path), u.line),
                )
            )
            role = ""
        rec = replace(
            _record(u.username, u.rights, u.forms, u.forms_export, version),
            expiration=u.expiration,
            data_access_group=dag,
            role=role,
        )
        users.append(rec)
        people[u.username] = (
            u.extra.get("email", ""),
            f"{u.extra.get('firstname', '')} {u.extra.get('lastname', '')}".strip(),
        )
        where[u.username] = Loc(str(users_path), u.line)
    return ProjectSnapshot(study, version, tuple(users), roles, dags, people, where, str(users_path)), diags


def _record(
    username: str, rights: Mapping[str, int], forms: Mapping[str, int], export: Mapping[str, int], version: str
) -> UserRecord:
    fields = rv.fields(version)
    return UserRecord(username, "", "", {f: int(rights.get(f, 0)) for f in fields}, dict(forms), dict(export), version)


def effective_rights(snap: ProjectSnapshot, user: UserRecord) -> UserRecord:
    """What a user holds: the role's rights when they are in one (REDCap applies the role's), else theirs."""
    role = snap.roles.get(user.role) if user.role else None
    if role is None:
        return user
    return replace(
        role.record,
        username=user.username,
        expiration=user.expiration,
        data_access_group=user.data_access_group,
        role=user.role,
    )
