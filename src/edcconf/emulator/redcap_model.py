"""Data model and value rules of the REDCap API *emulator* (not REDCap).

Field lists, per-version value sets and the validation of imported rights; the
sources of each rule are listed in :mod:`edcconf.emulator.redcap_store`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

USER_INFO_FIELDS = ["username", "email", "firstname", "lastname", "expiration",
                    "data_access_group", "data_access_group_id"]
RIGHT_FIELDS = [
    "design", "alerts", "user_rights", "data_access_groups", "reports", "stats_and_charts",
    "manage_survey_participants", "calendar", "data_import_tool", "data_comparison_tool",
    "logging", "email_logging", "file_repository", "data_quality_create", "data_quality_execute",
    "api_export", "api_import", "api_modules", "mobile_app", "mobile_app_download_data",
    "record_create", "record_rename", "record_delete", "lock_records_all_forms", "lock_records",
    "lock_records_customization", "mycap_participants",
]
FORM_FIELDS = ["forms", "forms_export"]
USER_FIELDS = USER_INFO_FIELDS + RIGHT_FIELDS + FORM_FIELDS
ROLE_FIELDS = ["unique_role_name", "role_label"] + RIGHT_FIELDS + FORM_FIELDS
# Accepted on import and ignored (exported by some REDCap versions or by older clients).
IGNORED_USER_FIELDS = {"data_access_group_id", "data_access_group_label", "data_export"}
IGNORED_ROLE_FIELDS = {"data_export"}

FORM_RIGHTS_OLD = {0, 1, 2, 3}
FORM_RIGHTS_NEW = {128, 129, 130, 138, 146, 154}
FORM_EXPORT_RIGHTS = {0, 1, 2, 3}


def parse_version(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version)[:3])


class ApiError(Exception):
    """An error REDCap would answer with ``status`` and ``message``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Dag:
    unique_group_name: str
    label: str
    group_id: int


@dataclass
class Rights:
    rights: dict[str, int]
    forms: dict[str, int]
    forms_export: dict[str, int]


@dataclass
class User:
    username: str
    rights: Rights
    email: str = ""
    firstname: str = ""
    lastname: str = ""
    expiration: str = ""
    dag: str = ""          # unique group name, "" = not assigned
    role: str = ""         # unique role name, "" = no role


@dataclass
class Role:
    unique_role_name: str
    role_label: str
    rights: Rights


@dataclass
class Project:
    project_id: int
    title: str
    forms: list[str]
    version: tuple[int, ...]
    dags: list[Dag] = field(default_factory=list)
    users: dict[str, User] = field(default_factory=dict)
    roles: list[Role] = field(default_factory=list)
    next_dag_id: int = 1

    # -- helpers -----------------------------------------------------------------
    @property
    def new_form_encoding(self) -> bool:
        return self.version >= (15, 6, 0)

    @property
    def no_access(self) -> int:
        return 128 if self.new_form_encoding else 0

    def empty_rights(self) -> Rights:
        return Rights({k: 0 for k in RIGHT_FIELDS},
                      {f: self.no_access for f in self.forms},
                      {f: 0 for f in self.forms})

    def dag(self, unique_name: str) -> Dag | None:
        return next((d for d in self.dags if d.unique_group_name == unique_name), None)

    def role(self, unique_name: str) -> Role | None:
        return next((r for r in self.roles if r.unique_role_name == unique_name), None)

    def add_dag(self, unique_name: str, label: str) -> Dag:
        dag = Dag(unique_name, label, self.next_dag_id)
        self.next_dag_id += 1
        self.dags.append(dag)
        return dag

    def effective_rights(self, user: User) -> Rights:
        role = self.role(user.role) if user.role else None
        return role.rights if role else user.rights

    def sorted_users(self) -> list[User]:
        return [self.users[k] for k in sorted(self.users, key=str.lower)]


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def quoted(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


def right_value(proj: Project, key: str, raw: Any, who: str) -> int:
    if raw is None or raw == "":
        return 0
    value = _as_int(raw)
    allowed = {0, 1}
    if key == "user_rights":
        allowed = {0, 1, 2} if proj.version >= (14, 1, 0) else {0, 1}
    elif key == "lock_records":
        allowed = {0, 1, 2}
    if value not in allowed:
        raise ApiError(f'The value "{raw}" of "{key}" for "{who}" is not valid '
                       f"(allowed: {', '.join(str(v) for v in sorted(allowed))})")
    return value

def form_values(proj: Project, key: str, raw: Any, who: str) -> dict[str, int]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        pairs = {}
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, val = part.partition(":")
            if not sep:
                raise ApiError(f'The value of "{key}" for "{who}" is not valid: "{part}" '
                               f'is not a "form:value" pair')
            pairs[name.strip()] = val.strip()
    elif isinstance(raw, dict):
        pairs = raw
    else:
        raise ApiError(f'The value of "{key}" for "{who}" is not valid')
    unknown = [n for n in pairs if n not in proj.forms]
    if unknown:
        raise ApiError(f'The following instruments in "{key}" for "{who}" do not exist in '
                       f"the project: {quoted(unknown)}")
    if key == "forms":
        allowed = FORM_RIGHTS_NEW if proj.new_form_encoding else FORM_RIGHTS_OLD
    else:
        allowed = FORM_EXPORT_RIGHTS
    out = {}
    for name, val in pairs.items():
        num = _as_int(val)
        if num not in allowed:
            raise ApiError(f'The value "{val}" for instrument "{name}" in "{key}" for '
                           f'"{who}" is not valid (allowed: '
                           f"{', '.join(str(v) for v in sorted(allowed))})")
        out[name] = num
    return out

def apply_rights(proj: Project, base: Rights, row: dict, who: str) -> Rights:
    rights = dict(base.rights)
    forms = dict(base.forms)
    forms_export = dict(base.forms_export)
    for key in RIGHT_FIELDS:
        if key in row:
            rights[key] = right_value(proj, key, row[key], who)
    if "forms" in row:
        forms.update(form_values(proj, "forms", row["forms"], who))
    if "forms_export" in row:
        forms_export.update(form_values(proj, "forms_export", row["forms_export"], who))
    return Rights(rights, forms, forms_export)

def check_fields(rows: list[dict], allowed: set[str]) -> None:
    unknown = []
    for row in rows:
        for key in row:
            if key not in allowed and key not in unknown:
                unknown.append(key)
    if unknown:
        raise ApiError(f"The following fields are not valid: {quoted(unknown)}")
