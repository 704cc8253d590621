"""Data model and value rules of the REDCap API *emulator* (not REDCap).

Field lists, per-version value sets and the validation of imported rights; the
sources of each rule are listed in :mod:`edcconf.emulator.redcap_store`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# The one version table: user-export field -> first REDCap version that exports it, in the order
# of REDCap's user export.  Our reading of REDCap's change log and of public API clients (see
# docs/emulator.md), not REDCap's source.  Roles export the same rights in the same order.
ALWAYS: tuple[int, ...] = (0,)
FIELD_SINCE: dict[str, tuple[int, ...]] = {
    "username": ALWAYS,
    "email": ALWAYS,
    "firstname": ALWAYS,
    "lastname": ALWAYS,
    "expiration": ALWAYS,
    "data_access_group": ALWAYS,
    "data_access_group_id": (10, 0, 0),
    "data_access_group_label": (14, 5, 0),
    "design": ALWAYS,
    "alerts": (9, 0, 0),
    "user_rights": ALWAYS,
    "data_access_groups": ALWAYS,
    "reports": ALWAYS,
    "stats_and_charts": ALWAYS,
    "manage_survey_participants": ALWAYS,
    "calendar": ALWAYS,
    "data_import_tool": ALWAYS,
    "data_comparison_tool": ALWAYS,
    "logging": ALWAYS,
    "email_logging": (10, 9, 0),
    "file_repository": ALWAYS,
    "data_quality_create": ALWAYS,
    "data_quality_execute": ALWAYS,
    "api_export": ALWAYS,
    "api_import": ALWAYS,
    "api_modules": (14, 0, 0),
    "mobile_app": ALWAYS,
    "mobile_app_download_data": ALWAYS,
    "record_create": ALWAYS,
    "record_rename": ALWAYS,
    "record_delete": ALWAYS,
    "lock_records_all_forms": ALWAYS,
    "lock_records": ALWAYS,
    "lock_records_customization": ALWAYS,
    "mycap_participants": (13, 0, 0),
    "random_setup": (14, 5, 0),
    "random_dashboard": (14, 5, 0),
    "random_perform": (14, 5, 0),
    "forms": ALWAYS,
    "forms_export": ALWAYS,
}
USER_INFO_FIELDS = [
    "username",
    "email",
    "firstname",
    "lastname",
    "expiration",
    "data_access_group",
    "data_access_group_id",
    "data_access_group_label",
]
FORM_FIELDS = ["forms", "forms_export"]
# Every right any version has (values 0/1 unless right_value says otherwise), in export order.
RIGHT_FIELDS = [f for f in FIELD_SINCE if f not in USER_INFO_FIELDS and f not in FORM_FIELDS]
# Accepted on import and ignored at every version (an older export's column).
IGNORED_FIELDS = {"data_export"}


def user_fields(version: tuple[int, ...]) -> list[str]:
    """The columns of a user export at ``version``, in REDCap's order."""
    return [f for f, since in FIELD_SINCE.items() if version >= since]


def role_fields(version: tuple[int, ...]) -> list[str]:
    """The columns of a user role export at ``version``: the user's rights, without user info."""
    return ["unique_role_name", "role_label"] + [f for f in user_fields(version) if f not in USER_INFO_FIELDS]


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
    dag: str = ""  # unique group name, "" = not assigned
    role: str = ""  # unique role name, "" = no role


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
    def user_fields(self) -> list[str]:
        return user_fields(self.version)

    @property
    def role_fields(self) -> list[str]:
        return role_fields(self.version)

    @property
    def no_access(self) -> int:
        return 128 if self.new_form_encoding else 0

    def empty_rights(self) -> Rights:
        return Rights({k: 0 for k in RIGHT_FIELDS}, {f: self.no_access for f in self.forms}, {f: 0 for f in self.forms})

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
        raise ApiError(
            f'The value "{raw}" of "{key}" for "{who}" is not valid '
            f"(allowed: {', '.join(str(v) for v in sorted(allowed))})"
        )
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
                raise ApiError(f'The value of "{key}" for "{who}" is not valid: "{part}" is not a "form:value" pair')
            pairs[name.strip()] = val.strip()
    elif isinstance(raw, dict):
        pairs = raw
    else:
        raise ApiError(f'The value of "{key}" for "{who}" is not valid')
    unknown = [n for n in pairs if n not in proj.forms]
    if unknown:
        raise ApiError(
            f'The following instruments in "{key}" for "{who}" do not exist in the project: {quoted(unknown)}'
        )
    if key == "forms":
        allowed = FORM_RIGHTS_NEW if proj.new_form_encoding else FORM_RIGHTS_OLD
    else:
        allowed = FORM_EXPORT_RIGHTS
    out = {}
    for name, val in pairs.items():
        num = _as_int(val)
        if num not in allowed:
            raise ApiError(
                f'The value "{val}" for instrument "{name}" in "{key}" for '
                f'"{who}" is not valid (allowed: '
                f"{', '.join(str(v) for v in sorted(allowed))})"
            )
        out[name] = num
    return out


def apply_rights(proj: Project, base: Rights, row: dict, who: str, unlisted_forms_lose_access: bool = False) -> Rights:
    """``base`` changed by the fields ``row`` gives; omitted fields keep their values.

    With ``unlisted_forms_lose_access`` (user imports, as REDCap), a ``forms`` or
    ``forms_export`` cell replaces the per-form rights: an instrument it does not list
    gets no access (``proj.no_access``, resp. 0) instead of keeping its old value.
    """
    rights = dict(base.rights)
    for key in RIGHT_FIELDS:
        if key in row:
            rights[key] = right_value(proj, key, row[key], who)
    forms, forms_export = dict(base.forms), dict(base.forms_export)
    for key, current, none in (("forms", forms, proj.no_access), ("forms_export", forms_export, 0)):
        if key in row:
            given = form_values(proj, key, row[key], who)
            if unlisted_forms_lose_access:
                current.update({f: none for f in proj.forms})
            current.update(given)
    return Rights(rights, forms, forms_export)


def check_fields(rows: list[dict], allowed: set[str]) -> None:
    unknown = []
    for row in rows:
        for key in row:
            if key not in allowed and key not in unknown:
                unknown.append(key)
    if unknown:
        raise ApiError(f"The following fields are not valid: {quoted(unknown)}")
