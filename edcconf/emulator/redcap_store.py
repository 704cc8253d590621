"""In-memory store behind the REDCap API *emulator* (not REDCap).

Holds projects (users, roles, DAGs, mappings) and implements the import, export
and delete rules of REDCap's API methods for ``user``, ``userRole``,
``userRoleMapping``, ``dag`` and ``userDagMapping``.  Every public method takes
the store's lock, so the HTTP server may call it from many threads.

Where each behaviour comes from:

* User and role columns, their order and the version that added each: the table
  ``FIELD_SINCE`` in :mod:`edcconf.emulator.redcap_model` (our reading, see
  docs/emulator.md).  The order agrees with the ``export_users`` docstring of
  PyCap 2.x (``redcap/methods/users.py``) and REDCapR's fixture
  ``inst/test-data/specific-redcapr/users-export/with-dags--user.R`` (username,
  names, expiration, data_access_group, design, alerts, user_rights, ...
  lock_records_customization, forms_export).  JSON user exports carry integers
  (PyCap docstring ``'design': 1``), role exports carry strings for the rights and
  integers inside ``forms`` (PyCap ``export_user_roles`` docstring ``'design': '0'
  ... 'forms': {'form_1': 2}``).
* ``forms`` / ``forms_export`` in CSV as ``form:value`` pairs joined by commas:
  REDCapR ``redcap_users_export()`` splits them with ``sep = ","`` and the regex
  ``^(\\w+):(\\d{1,3})$``; in JSON an object (PyCap docstrings).
* Per-form values before/from 15.6.0 (0/2/1/3, then 128/129/130 plus 8 and 16):
  REDCap's API help key as quoted in redcapAPI issue #469.  ``user_rights`` 2
  (read only) from 14.1: our reading of REDCap's change log, like the version table.
* A user import naming a user who is in a user role is refused (400) with
  REDCap's text "The following users are currently assigned to a user role, so
  their user rights cannot be modified via the API: ..." (the wording given to
  this project for REDCap's API; redcapAPI issue #206 quotes a REDCap admin's
  different wording, "... cannot have their user privileges modified because
  the user belongs to a user role"); taking the user out of the role
  (``userRoleMapping`` with a blank ``unique_role_name``) first works, the
  workaround of redcapAPI PR #212.
* A user import's ``forms`` / ``forms_export`` cell replaces the per-form
  rights: instruments it does not list get no access (REDCap's behaviour as
  reported to this project; no public source was found).
* A user import that omits ``data_access_group`` unassigns the user's DAG:
  redcapAPI issue #500 / PR #499 ("If importUsers is called without the
  data_access_group column ... redcap will set the DAG to 'not assigned to a
  group'").
* Creating a DAG with a blank ``unique_group_name`` and a role with a blank
  ``unique_role_name`` (names such as ``U-573AEYRNR8``): PyCap ``import_dags`` /
  ``import_user_roles`` docstrings and PyCap's test project XML
  (``tests/data/test_simple_project.xml``).  New roles are exported last (PyCap
  integration test ``test_import_delete_user_roles`` reads ``[-1]``).

The rules themselves live in :mod:`edcconf.emulator.redcap_model`.

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
from typing import Any

from .redcap_model import (
    IGNORED_FIELDS,
    ApiError,
    Project,
    Rights,
    Role,
    User,
    apply_rights,
    check_fields,
    parse_version,
    quoted,
)


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

    # -- users -----------------------------------------------------------------------
    def export_users(self, proj: Project) -> list[dict]:
        with self.lock:
            out = []
            for user in proj.sorted_users():
                rights = proj.effective_rights(user)
                dag = proj.dag(user.dag) if user.dag else None
                values: dict[str, Any] = {
                    "username": user.username,
                    "email": user.email,
                    "firstname": user.firstname,
                    "lastname": user.lastname,
                    "expiration": user.expiration,
                    "data_access_group": dag.unique_group_name if dag else "",
                    "data_access_group_id": dag.group_id if dag else "",
                    "data_access_group_label": dag.label if dag else "",
                    **rights.rights,
                    **_form_cells(proj, rights),
                }
                out.append({f: values[f] for f in proj.user_fields})
            return out

    def import_users(self, proj: Project, rows: list[dict]) -> int:
        with self.lock:
            check_fields(rows, set(proj.user_fields) | IGNORED_FIELDS)
            in_role = _users_in_a_role(proj, rows)
            if in_role:
                raise ApiError(
                    "The following users are currently assigned to a user role, so "
                    "their user rights cannot be modified via the API: " + ", ".join(in_role)
                )
            staged: list[User] = []
            for row in rows:
                username = str(row.get("username") or "").strip()
                if not username:
                    raise ApiError('The field "username" is missing or blank')
                old = proj.users.get(username)
                base = old.rights if old else proj.empty_rights()
                rights = apply_rights(proj, base, row, username, unlisted_forms_lose_access=True)
                dag_name = str(row.get("data_access_group") or "").strip()
                if dag_name and proj.dag(dag_name) is None:
                    raise ApiError(
                        f'The Data Access Group "{dag_name}" for user "{username}" '
                        f"does not exist in the project (use the unique group name)"
                    )
                expiration = str(row.get("expiration", old.expiration if old else "") or "")
                if expiration and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", expiration):
                    raise ApiError(
                        f'The value "{expiration}" of "expiration" for "{username}" is not a valid date (YYYY-MM-DD)'
                    )
                staged.append(
                    User(
                        username=username,
                        rights=rights,
                        email=str(row.get("email", old.email if old else "") or ""),
                        firstname=str(row.get("firstname", old.firstname if old else "") or ""),
                        lastname=str(row.get("lastname", old.lastname if old else "") or ""),
                        expiration=expiration,
                        dag=dag_name,  # omitted -> "" : REDCap unassigns the DAG
                        role="",  # users in a role were refused above
                    )
                )
            for user in staged:
                proj.users[user.username] = user
            return len(staged)

    def delete_users(self, proj: Project, names: list[str]) -> int:
        with self.lock:
            if not names:
                raise ApiError('The parameter "users" is missing or empty')
            unknown = [n for n in names if n not in proj.users]
            if unknown:
                raise ApiError(f"The following users do not exist in the project: {quoted(unknown)}")
            for n in names:
                del proj.users[n]
            return len(names)

    # -- roles -------------------------------------------------------------------------
    def export_roles(self, proj: Project) -> list[dict]:
        with self.lock:
            out = []
            for role in proj.roles:
                values: dict[str, Any] = {
                    "unique_role_name": role.unique_role_name,
                    "role_label": role.role_label,
                    **{k: str(v) for k, v in role.rights.rights.items()},
                    **_form_cells(proj, role.rights),
                }
                out.append({f: values[f] for f in proj.role_fields})
            return out

    def _new_role_name(self, proj: Project) -> str:
        alphabet = string.digits + string.ascii_uppercase
        while True:
            name = "U-" + "".join(self._rng.choice(alphabet) for _ in range(10))
            if proj.role(name) is None:
                return name

    def import_roles(self, proj: Project, rows: list[dict]) -> int:
        with self.lock:
            check_fields(rows, set(proj.role_fields) | IGNORED_FIELDS)
            staged: list[tuple[Role | None, Role]] = []
            for row in rows:
                unique = str(row.get("unique_role_name") or "").strip()
                label = str(row.get("role_label") or "").strip()
                if unique:
                    old = proj.role(unique)
                    if old is None:
                        raise ApiError(f'The user role "{unique}" does not exist in the project')
                    rights = apply_rights(proj, old.rights, row, unique)
                    staged.append((old, Role(unique, label or old.role_label, rights)))
                else:
                    if not label:
                        raise ApiError('The field "role_label" is required to create a user role')
                    rights = apply_rights(proj, proj.empty_rights(), row, label)
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
            _check_deleting(names, "roles", "user roles", proj.role)
            for user in proj.users.values():
                if user.role in names:
                    role = proj.role(user.role)
                    assert role is not None  # _check_deleting refused names that are not roles
                    user.rights, user.role = role.rights, ""
            proj.roles = [r for r in proj.roles if r.unique_role_name not in names]
            return len(names)

    def export_role_mapping(self, proj: Project) -> list[dict]:
        with self.lock:
            return [
                {"username": u.username, "unique_role_name": u.role, "data_access_group": u.dag}
                for u in proj.sorted_users()
            ]

    def import_role_mapping(self, proj: Project, rows: list[dict]) -> int:
        with self.lock:
            check_fields(rows, {"username", "unique_role_name", "data_access_group"})
            staged = []
            for row in rows:
                user = _existing_user(proj, row)
                username = user.username
                role = str(row.get("unique_role_name") or "").strip()
                if role and proj.role(role) is None:
                    raise ApiError(f'The user role "{role}" does not exist in the project')
                dag = user.dag
                if "data_access_group" in row:
                    dag = str(row["data_access_group"] or "").strip()
                    if dag and proj.dag(dag) is None:
                        raise ApiError(
                            f'The Data Access Group "{dag}" for user "{username}" does not exist in the project'
                        )
                staged.append((user, role, dag))
            for user, role, dag in staged:
                if user.role and not role:  # leaving a role keeps its rights, as REDCap
                    current = proj.role(user.role)
                    assert current is not None  # a user's role is one of the project's (delete_roles clears it)
                    user.rights = current.rights
                user.role, user.dag = role, dag
            return len(staged)

    # -- DAGs --------------------------------------------------------------------------
    def export_dags(self, proj: Project) -> list[dict]:
        with self.lock:
            return [
                {
                    "data_access_group_name": d.label,
                    "unique_group_name": d.unique_group_name,
                    "data_access_group_id": d.group_id,
                }
                for d in proj.dags
            ]

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
            check_fields(rows, {"data_access_group_name", "unique_group_name", "data_access_group_id"})
            staged = []
            for row in rows:
                label = str(row.get("data_access_group_name") or "").strip()
                unique = str(row.get("unique_group_name") or "").strip()
                if not label:
                    raise ApiError('The field "data_access_group_name" is missing or blank')
                if unique and proj.dag(unique) is None:
                    raise ApiError(
                        f'The Data Access Group "{unique}" does not exist in the '
                        f"project (leave unique_group_name blank to create one)"
                    )
                staged.append((unique, label))
            taken = {d.unique_group_name for d in proj.dags}
            for unique, label in staged:
                if unique:
                    dag = proj.dag(unique)
                    assert dag is not None  # checked above, while staging
                    dag.label = label
                else:
                    name = self._unique_group_name(proj, label, taken)
                    taken.add(name)
                    proj.add_dag(name, label)
            return len(staged)

    def delete_dags(self, proj: Project, names: list[str]) -> int:
        with self.lock:
            _check_deleting(names, "dags", "Data Access Groups", proj.dag)
            for user in proj.users.values():
                if user.dag in names:
                    user.dag = ""
            proj.dags = [d for d in proj.dags if d.unique_group_name not in names]
            return len(names)

    def export_dag_mapping(self, proj: Project) -> list[dict]:
        with self.lock:
            return [{"username": u.username, "redcap_data_access_group": u.dag} for u in proj.sorted_users()]

    def import_dag_mapping(self, proj: Project, rows: list[dict]) -> int:
        with self.lock:
            check_fields(rows, {"username", "redcap_data_access_group"})
            staged = []
            for row in rows:
                user = _existing_user(proj, row)
                username = user.username
                dag = str(row.get("redcap_data_access_group") or "").strip()
                if dag and proj.dag(dag) is None:
                    raise ApiError(f'The Data Access Group "{dag}" for user "{username}" does not exist in the project')
                staged.append((user, dag))
            for user, dag in staged:
                user.dag = dag
            return len(staged)

    # -- project -----------------------------------------------------------------------
    def export_project(self, proj: Project) -> dict:
        with self.lock:
            return {
                "project_id": proj.project_id,
                "project_title": proj.title,
                "creation_time": "2024-01-02 09:00:00",
                "production_time": "",
                "in_production": 0,
                "project_language": "English",
                "purpose": 4,
                "purpose_other": "",
                "project_notes": "",
                "custom_record_label": "",
                "secondary_unique_field": "",
                "is_longitudinal": 0,
                "has_repeating_instruments_or_events": 0,
                "surveys_enabled": 0,
                "scheduling_enabled": 0,
                "record_autonumbering_enabled": 0,
                "randomization_enabled": 0,
                "ddp_enabled": 0,
                "project_irb_number": "",
                "project_grant_number": "",
                "project_pi_firstname": "",
                "project_pi_lastname": "",
                "display_today_now_button": 1,
                "missing_data_codes": "",
                "external_modules": "",
                "bypass_branching_erase_field_prompt": 0,
            }


def _form_cells(proj: Project, rights: Rights) -> dict[str, dict[str, int]]:
    """``forms`` and ``forms_export`` of one user or role: every instrument of the project."""
    return {
        "forms": {f: rights.forms.get(f, proj.no_access) for f in proj.forms},
        "forms_export": {f: rights.forms_export.get(f, 0) for f in proj.forms},
    }


def _users_in_a_role(proj: Project, rows: list[dict]) -> list[str]:
    """The users ``rows`` name who are in a user role: REDCap refuses to import their rights."""
    names = []
    for row in rows:
        user = proj.users.get(str(row.get("username") or "").strip())
        if user is not None and user.role and user.username not in names:
            names.append(user.username)
    return names


def _check_deleting(names: list[str], parameter: str, what: str, find) -> None:
    """REDCap's refusals for a delete: no names given, or names that do not exist."""
    if not names:
        raise ApiError(f'The parameter "{parameter}" is missing or empty')
    unknown = [n for n in names if find(n) is None]
    if unknown:
        raise ApiError(f"The following {what} do not exist in the project: {quoted(unknown)}")


def _existing_user(proj: Project, row: dict) -> User:
    """The project user a mapping row names; REDCap refuses a mapping for someone not in the project."""
    username = str(row.get("username") or "").strip()
    user = proj.users.get(username)
    if user is None:
        raise ApiError(f'The user "{username}" does not exist in the project')
    return user
