"""In-memory store behind the REDCap API *emulator* (not REDCap).

Holds projects (users, roles, DAGs, mappings) and implements the import, export
and delete rules of REDCap's API methods for ``user``, ``userRole``,
``userRoleMapping``, ``dag`` and ``userDagMapping``.  Every public method takes
the store's lock, so the HTTP server may call it from many threads.

Where each behaviour comes from:

* User field names and order: DESIGN.md §8 and the ``export_users`` docstring of
  PyCap 2.x (``redcap/methods/users.py``); REDCapR's fixture
  ``inst/test-data/specific-redcapr/users-export/with-dags--user.R`` shows the
  same order (username, names, expiration, data_access_group, design, alerts,
  user_rights, ... lock_records_customization, forms_export).  JSON user exports
  carry integers (PyCap docstring ``'design': 1``), role exports carry strings
  for the rights and integers inside ``forms`` (PyCap ``export_user_roles``
  docstring ``'design': '0' ... 'forms': {'form_1': 2}``).
* ``forms`` / ``forms_export`` in CSV as ``form:value`` pairs joined by commas:
  REDCapR ``redcap_users_export()`` splits them with ``sep = ","`` and the regex
  ``^(\\w+):(\\d{1,3})$``; in JSON an object (PyCap docstrings).
* Per-form values before/from 15.6.0 and ``user_rights`` 0/2/1: DESIGN.md §8.
* A user import that omits ``data_access_group`` unassigns the user's DAG:
  redcapAPI issue #500 / PR #499 ("If importUsers is called without the
  data_access_group column ... redcap will set the DAG to 'not assigned to a
  group'"), and DESIGN.md §7.
* Creating a DAG with a blank ``unique_group_name`` and a role with a blank
  ``unique_role_name`` (names such as ``U-573AEYRNR8``): PyCap ``import_dags`` /
  ``import_user_roles`` docstrings and PyCap's test project XML
  (``tests/data/test_simple_project.xml``).  New roles are exported last (PyCap
  integration test ``test_import_delete_user_roles`` reads ``[-1]``).

The wording of validation errors (unknown field, unknown DAG, value out of
range, unknown form, unknown user/role/DAG on delete) is the emulator's own:
REDCap's exact texts for these were not found in public sources.  They start
with the same shape REDCap uses (a sentence, names in double quotes).
"""

from __future__ import annotations

import random
import re
import string
import threading
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


def _quoted(names) -> str:
    return ", ".join(f'"{n}"' for n in names)


class Store:
    """All projects of one emulator, keyed by token."""

    def __init__(self, version: str):
        self.version = version
        self.lock = threading.RLock()
        self.by_token: dict[str, Project] = {}
        self.by_id: dict[int, Project] = {}
        self._rng = random.Random(20240514)

    # -- projects ----------------------------------------------------------------
    def add_project(self, project_id: int, title: str, forms, dags, token: str | None) -> str:
        with self.lock:
            if token is None:
                token = "".join(self._rng.choice("0123456789ABCDEF") for _ in range(32))
            if token in self.by_token:
                raise ValueError(f"token already used: {token}")
            if project_id in self.by_id:
                raise ValueError(f"project_id already used: {project_id}")
            proj = Project(project_id, title, list(forms), parse_version(self.version))
            for unique_name, label in dags:
                proj.add_dag(unique_name, label)
            self.by_token[token] = proj
            self.by_id[project_id] = proj
            return token

    def project_for_token(self, token: str) -> Project:
        proj = self.by_token.get(token or "")
        if proj is None:
            raise ApiError("You do not have permissions to use the API", 403)
        return proj

    # -- rights parsing ------------------------------------------------------------
    def _right_value(self, proj: Project, key: str, raw: Any, who: str) -> int:
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

    def _form_values(self, proj: Project, key: str, raw: Any, who: str) -> dict[str, int]:
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
                           f"the project: {_quoted(unknown)}")
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

    def _apply_rights(self, proj: Project, base: Rights, row: dict, who: str) -> Rights:
        rights = dict(base.rights)
        forms = dict(base.forms)
        forms_export = dict(base.forms_export)
        for key in RIGHT_FIELDS:
            if key in row:
                rights[key] = self._right_value(proj, key, row[key], who)
        if "forms" in row:
            forms.update(self._form_values(proj, "forms", row["forms"], who))
        if "forms_export" in row:
            forms_export.update(self._form_values(proj, "forms_export", row["forms_export"], who))
        return Rights(rights, forms, forms_export)

    @staticmethod
    def _check_fields(rows: list[dict], allowed: set[str]) -> None:
        unknown = []
        for row in rows:
            for key in row:
                if key not in allowed and key not in unknown:
                    unknown.append(key)
        if unknown:
            raise ApiError(f"The following fields are not valid: {_quoted(unknown)}")

    # -- users -----------------------------------------------------------------------
    def export_users(self, proj: Project) -> list[dict]:
        with self.lock:
            out = []
            for user in proj.sorted_users():
                rights = proj.effective_rights(user)
                dag = proj.dag(user.dag) if user.dag else None
                row: dict[str, Any] = {
                    "username": user.username, "email": user.email,
                    "firstname": user.firstname, "lastname": user.lastname,
                    "expiration": user.expiration,
                    "data_access_group": dag.unique_group_name if dag else "",
                    "data_access_group_id": dag.group_id if dag else "",
                }
                row.update(rights.rights)
                row["forms"] = {f: rights.forms.get(f, proj.no_access) for f in proj.forms}
                row["forms_export"] = {f: rights.forms_export.get(f, 0) for f in proj.forms}
                out.append(row)
            return out

    def import_users(self, proj: Project, rows: list[dict]) -> int:
        with self.lock:
            self._check_fields(rows, set(USER_FIELDS) | IGNORED_USER_FIELDS)
            staged: list[User] = []
            for row in rows:
                username = str(row.get("username") or "").strip()
                if not username:
                    raise ApiError('The field "username" is missing or blank')
                old = proj.users.get(username)
                base = old.rights if old else proj.empty_rights()
                rights = self._apply_rights(proj, base, row, username)
                dag_name = str(row.get("data_access_group") or "").strip()
                if dag_name and proj.dag(dag_name) is None:
                    raise ApiError(f'The Data Access Group "{dag_name}" for user "{username}" '
                                   f"does not exist in the project (use the unique group name)")
                expiration = str(row.get("expiration", old.expiration if old else "") or "")
                if expiration and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", expiration):
                    raise ApiError(f'The value "{expiration}" of "expiration" for "{username}" '
                                   f"is not a valid date (YYYY-MM-DD)")
                staged.append(User(
                    username=username, rights=rights,
                    email=str(row.get("email", old.email if old else "") or ""),
                    firstname=str(row.get("firstname", old.firstname if old else "") or ""),
                    lastname=str(row.get("lastname", old.lastname if old else "") or ""),
                    expiration=expiration,
                    dag=dag_name,            # omitted -> "" : REDCap unassigns the DAG
                    role=old.role if old else "",
                ))
            for user in staged:
                proj.users[user.username] = user
            return len(staged)

    def delete_users(self, proj: Project, names: list[str]) -> int:
        with self.lock:
            if not names:
                raise ApiError('The parameter "users" is missing or empty')
            unknown = [n for n in names if n not in proj.users]
            if unknown:
                raise ApiError(f"The following users do not exist in the project: "
                               f"{_quoted(unknown)}")
            for n in names:
                del proj.users[n]
            return len(names)

    # -- roles -------------------------------------------------------------------------
    def export_roles(self, proj: Project) -> list[dict]:
        with self.lock:
            out = []
            for role in proj.roles:
                row: dict[str, Any] = {"unique_role_name": role.unique_role_name,
                                       "role_label": role.role_label}
                row.update({k: str(v) for k, v in role.rights.rights.items()})
                row["forms"] = {f: role.rights.forms.get(f, proj.no_access) for f in proj.forms}
                row["forms_export"] = {f: role.rights.forms_export.get(f, 0) for f in proj.forms}
                out.append(row)
            return out

    def _new_role_name(self, proj: Project) -> str:
        alphabet = string.digits + string.ascii_uppercase
        while True:
            name = "U-" + "".join(self._rng.choice(alphabet) for _ in range(10))
            if proj.role(name) is None:
                return name

    def import_roles(self, proj: Project, rows: list[dict]) -> int:
        with self.lock:
            self._check_fields(rows, set(ROLE_FIELDS) | IGNORED_ROLE_FIELDS)
            staged: list[tuple[Role | None, Role]] = []
            for row in rows:
                unique = str(row.get("unique_role_name") or "").strip()
                label = str(row.get("role_label") or "").strip()
                if unique:
                    old = proj.role(unique)
                    if old is None:
                        raise ApiError(f'The user role "{unique}" does not exist in the project')
                    rights = self._apply_rights(proj, old.rights, row, unique)
                    staged.append((old, Role(unique, label or old.role_label, rights)))
                else:
                    if not label:
                        raise ApiError('The field "role_label" is required to create a user role')
                    rights = self._apply_rights(proj, proj.empty_rights(), row, label)
                    staged.append((None, Role("", label, rights)))
            for old, new in staged:
                if old is None:
                    new.unique_role_name = self._new_role_name(proj)
                    proj.roles.append(new)
                else:
                    old.role_label, old.rights = new.role_label, new.rights
            return len(staged)

    def delete_roles(self, proj: Project, names: list[str]) -> int:
        with self.lock:
            if not names:
                raise ApiError('The parameter "roles" is missing or empty')
            unknown = [n for n in names if proj.role(n) is None]
            if unknown:
                raise ApiError(f"The following user roles do not exist in the project: "
                               f"{_quoted(unknown)}")
            for user in proj.users.values():
                if user.role in names:
                    user.rights, user.role = proj.role(user.role).rights, ""
            proj.roles = [r for r in proj.roles if r.unique_role_name not in names]
            return len(names)

    def export_role_mapping(self, proj: Project) -> list[dict]:
        with self.lock:
            return [{"username": u.username, "unique_role_name": u.role,
                     "data_access_group": u.dag} for u in proj.sorted_users()]

    def import_role_mapping(self, proj: Project, rows: list[dict]) -> int:
        with self.lock:
            self._check_fields(rows, {"username", "unique_role_name", "data_access_group"})
            staged = []
            for row in rows:
                username = str(row.get("username") or "").strip()
                user = proj.users.get(username)
                if user is None:
                    raise ApiError(f'The user "{username}" does not exist in the project')
                role = str(row.get("unique_role_name") or "").strip()
                if role and proj.role(role) is None:
                    raise ApiError(f'The user role "{role}" does not exist in the project')
                dag = user.dag
                if "data_access_group" in row:
                    dag = str(row["data_access_group"] or "").strip()
                    if dag and proj.dag(dag) is None:
                        raise ApiError(f'The Data Access Group "{dag}" for user "{username}" '
                                       f"does not exist in the project")
                staged.append((user, role, dag))
            for user, role, dag in staged:
                if user.role and not role:       # leaving a role keeps its rights, as REDCap
                    user.rights = proj.role(user.role).rights
                user.role, user.dag = role, dag
            return len(staged)

    # -- DAGs --------------------------------------------------------------------------
    def export_dags(self, proj: Project) -> list[dict]:
        with self.lock:
            return [{"data_access_group_name": d.label, "unique_group_name": d.unique_group_name,
                     "data_access_group_id": d.group_id} for d in proj.dags]

    @staticmethod
    def _unique_group_name(proj: Project, label: str, taken: set[str]) -> str:
        base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:18].rstrip("_") or "dag"
        name, n = base, 2
        while name in taken:
            suffix = f"_{n}"
            name = base[: 18 - len(suffix)] + suffix
            n += 1
        return name

    def import_dags(self, proj: Project, rows: list[dict]) -> int:
        with self.lock:
            self._check_fields(rows, {"data_access_group_name", "unique_group_name",
                                      "data_access_group_id"})
            staged = []
            for row in rows:
                label = str(row.get("data_access_group_name") or "").strip()
                unique = str(row.get("unique_group_name") or "").strip()
                if not label:
                    raise ApiError('The field "data_access_group_name" is missing or blank')
                if unique and proj.dag(unique) is None:
                    raise ApiError(f'The Data Access Group "{unique}" does not exist in the '
                                   f"project (leave unique_group_name blank to create one)")
                staged.append((unique, label))
            taken = {d.unique_group_name for d in proj.dags}
            for unique, label in staged:
                if unique:
                    proj.dag(unique).label = label
                else:
                    name = self._unique_group_name(proj, label, taken)
                    taken.add(name)
                    proj.add_dag(name, label)
            return len(staged)

    def delete_dags(self, proj: Project, names: list[str]) -> int:
        with self.lock:
            if not names:
                raise ApiError('The parameter "dags" is missing or empty')
            unknown = [n for n in names if proj.dag(n) is None]
            if unknown:
                raise ApiError(f"The following Data Access Groups do not exist in the project: "
                               f"{_quoted(unknown)}")
            for user in proj.users.values():
                if user.dag in names:
                    user.dag = ""
            proj.dags = [d for d in proj.dags if d.unique_group_name not in names]
            return len(names)

    def export_dag_mapping(self, proj: Project) -> list[dict]:
        with self.lock:
            return [{"username": u.username, "redcap_data_access_group": u.dag}
                    for u in proj.sorted_users()]

    def import_dag_mapping(self, proj: Project, rows: list[dict]) -> int:
        with self.lock:
            self._check_fields(rows, {"username", "redcap_data_access_group"})
            staged = []
            for row in rows:
                username = str(row.get("username") or "").strip()
                user = proj.users.get(username)
                if user is None:
                    raise ApiError(f'The user "{username}" does not exist in the project')
                dag = str(row.get("redcap_data_access_group") or "").strip()
                if dag and proj.dag(dag) is None:
                    raise ApiError(f'The Data Access Group "{dag}" for user "{username}" '
                                   f"does not exist in the project")
                staged.append((user, dag))
            for user, dag in staged:
                user.dag = dag
            return len(staged)

    # -- project -----------------------------------------------------------------------
    def export_project(self, proj: Project) -> dict:
        with self.lock:
            return {
                "project_id": proj.project_id, "project_title": proj.title,
                "creation_time": "2024-01-02 09:00:00", "production_time": "",
                "in_production": 0, "project_language": "English", "purpose": 4,
                "purpose_other": "", "project_notes": "", "custom_record_label": "",
                "secondary_unique_field": "", "is_longitudinal": 0,
                "has_repeating_instruments_or_events": 0, "surveys_enabled": 0,
                "scheduling_enabled": 0, "record_autonumbering_enabled": 0,
                "randomization_enabled": 0, "ddp_enabled": 0, "project_irb_number": "",
                "project_grant_number": "", "project_pi_firstname": "",
                "project_pi_lastname": "", "display_today_now_button": 1,
                "missing_data_codes": "", "external_modules": "",
                "bypass_branching_erase_field_prompt": 0,
            }
