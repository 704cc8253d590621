"""`redcap` provider: one REDCap project per study, through the REDCap API with PyCap.

Tokens come only from environment variables named in the configuration (`token_env` on the study's
`redcap:` block or on the target) and never appear in a message. Transport failures (timeouts,
connection errors, 5xx) are retried with exponential backoff, 429 after its Retry-After, within a limit
of requests in flight per host (redcap_transport); an error REDCap itself answers reaches the user
verbatim, with the study and user it concerns. Several threads may use one provider at once, each on its
own studies (--parallelism): its caches are per study and each thread has its own HTTP session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..diagnostics import UserError
from ..model import Target
from ..parallel import parallelism
from ..plan import Change
from ..rules import commands as commands_rules
from ..rules import plan as plan_rules
from ..source import load_sources
from .base import ProviderError
from .redcap_records import (
    Unsayable,
    UserRecord,
    dag_of,
    dag_unique_name,
    differences,
    expected_record,
    live_record,
    role_record,
)
from .redcap_transport import ThreadSessions

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 4


@dataclass(frozen=True)
class ProjectConfig:
    study: str
    project_id: int | None
    token_env: str


def redcap_projects(root: Path) -> dict[str, dict]:
    """Each REDCap study's `redcap:` block, read from the declarations without requiring the rest of the
    configuration to be valid (apply of a saved plan loads no model)."""

    out: dict[str, dict] = {}
    for f in load_sources(Path(root)).files:
        study = f.data.get("study") if isinstance(f.data, dict) else None
        if isinstance(study, dict) and study.get("system") == "redcap" and isinstance(study.get("id"), str):
            block = study.get("redcap")
            out[study["id"]] = dict(block) if isinstance(block, dict) else {}
    return out


def _project_class():
    from redcap import Project  # local: redcap is slow to import
    from redcap.request import _ContentConfig, _RCRequest  # local: redcap is slow to import

    class RetryingProject(Project):
        """PyCap's Project on sessions of our own (retries, backoff, the host's limiter; one per thread);
        PyCap otherwise shares one bare module-level session without retries."""

        def __init__(self, url: str, token: str, sessions: ThreadSessions, **request_kwargs: Any) -> None:
            super().__init__(url, token, **request_kwargs)
            self._edcconf_sessions = sessions

        def _call_api(self, payload, return_type, file=None):  # same contract as PyCap's own
            config = _ContentConfig(
                return_empty_json=return_type == "empty_json", return_bytes=return_type == "file_map"
            )
            request = _RCRequest(url=self.url, payload=payload, config=config, session=self._edcconf_sessions.get())
            return request.execute(
                verify_ssl=self.verify_ssl, return_headers=return_type == "file_map", file=file, **self._request_kwargs
            )

    return RetryingProject


def redcap_message(exc: Exception) -> str:
    """What REDCap said, without our wrapping: its `error` text when it sent one."""
    arg = exc.args[0] if exc.args else exc
    if isinstance(arg, dict) and "error" in arg:
        return str(arg["error"])
    text = str(arg)
    if text.upper().startswith("ERROR:"):
        return text[6:].strip()
    return text


class RedcapProvider:
    """Reads and writes the users of each REDCap study's project."""

    system = "redcap"
    batched = False
    finishes_in_files = True  # finish() does nothing (see apply.finish)
    per_study = True  # its changes of different studies are independent: apply runs studies in parallel

    def __init__(
        self,
        target: Target,
        projects: Mapping[str, Mapping],
        environment: str,
        study_sites: Mapping[str, list[str]],
        env: Mapping[str, str] | None = None,
        retries: int = DEFAULT_RETRIES,
        backoff: float = 0.5,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not target.url:
            raise UserError(
                f"targets.redcap in {environment} needs `url:` (the REDCap API address, ending in /api/) "
                f"at {target.loc}",
                code=plan_rules.NO_TARGET.code,
            )
        self.url = target.url
        self.target = target
        self.projects = projects
        self.environment = environment
        self.study_sites = study_sites
        self.env = os.environ if env is None else env
        self.sessions = ThreadSessions(
            target.url, retries, backoff, parallelism(), getattr(target, "requests_per_second", None)
        )
        self.timeout = timeout
        self._open: dict[str, Any] = {}
        self._dags: dict[str, dict[str, str]] = {}
        self._roles_of: dict[str, dict[str, str]] = {}
        self._project_roles: dict[str, dict[str, dict]] = {}
        self._members: dict[str, set[str]] = {}
        self._versions: dict[str, str] = {}

    # -- connection ---------------------------------------------------------------------------------
    def config(self, study: str) -> ProjectConfig:
        block = self.projects.get(study, {})
        token_env = block.get("token_env") or self.target.token_env
        if not token_env:
            raise UserError(
                f"REDCap study {study} has no token variable: set `redcap: {{token_env: NAME}}` on the "
                f"study or `token_env:` on targets.redcap of {self.environment}",
                code=commands_rules.NO_TOKEN.code,
            )
        return ProjectConfig(study, block.get("project_id"), token_env)

    def unmanaged_users(self, study: str) -> frozenset[str]:
        """The token's owner (`redcap: {api_user: …}`): in the project, never managed nor reported."""
        owner = (self.projects.get(study) or {}).get("api_user")
        return frozenset([owner] if owner else [])

    def project(self, study: str):
        if study not in self._open:
            cfg = self.config(study)
            token = self.env.get(cfg.token_env)
            if not token:
                raise UserError(
                    f"environment variable {cfg.token_env} (the API token of REDCap study {study}) is not set",
                    code=commands_rules.NO_TOKEN.code,
                )
            if len(token) != 32:
                raise UserError(
                    f"environment variable {cfg.token_env} does not hold a REDCap API token (32 characters)",
                    code=commands_rules.NO_TOKEN.code,
                )
            if not self.url.endswith("/api/"):
                raise UserError(
                    f"targets.redcap url of {self.environment} must end in /api/ (it is {self.url})",
                    code=plan_rules.NO_TARGET.code,
                )
            self._open[study] = _project_class()(self.url, token, self.sessions, timeout=self.timeout)
        return self._open[study]

    def call(self, study: str, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """One API call; failures become ProviderError-ready messages naming the study (never the token)."""
        import requests  # local: requests is slow to import

        try:
            return fn(*args)
        except requests.exceptions.JSONDecodeError as exc:
            raise _Refused(
                f"REDCap ({self.url}) did not answer {what} for {study} with data after retries: {str(exc)[:200]}"
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise _Refused(
                f"REDCap ({self.url}) could not be reached for {what} in {study}: {type(exc).__name__}"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise _Refused(f"REDCap refused {what} in {study}: {redcap_message(exc)}") from None

    def version(self, study: str) -> str:
        if study not in self._versions:
            p = self.project(study)
            self._versions[study] = str(self.call(study, "the version export", p.export_version)).strip()
        return self._versions[study]

    def dags(self, study: str) -> dict[str, str]:
        """site id -> unique group name of the project's data access groups (matched by label)."""
        if study not in self._dags:
            p = self.project(study)
            found = self.call(study, "the data access group export", p.export_dags)
            self._dags[study] = {
                str(d.get("data_access_group_name")): str(d.get("unique_group_name")) for d in found or [] if d
            }
        return self._dags[study]

    def ensure_dags(self, study: str, sites: list[str]) -> None:
        missing = [s for s in sites if s not in self.dags(study)]
        if missing:
            p = self.project(study)
            self.call(
                study,
                f"creating data access groups {', '.join(missing)}",
                p.import_dags,
                [{"data_access_group_name": s, "unique_group_name": ""} for s in missing],
            )
            self._dags.pop(study, None)

    def members(self, study: str) -> set[str]:
        """The project's usernames, read once per run and kept up to date by this provider's own changes."""
        if study not in self._members:
            self._members[study] = {str(u.get("username")) for u in self.users(study)}
        return self._members[study]

    def users(self, study: str) -> list[dict]:
        return list(self.call(study, "the user export", self.project(study).export_users) or [])

    def user_roles(self, study: str) -> dict[str, str]:
        """username -> unique name of the REDCap user role they are in ("" for none)."""
        if study not in self._roles_of:
            p = self.project(study)
            found = self.call(study, "the user role assignment export", p.export_user_role_assignment)
            self._roles_of[study] = {
                str(r.get("username")): str(r.get("unique_role_name") or "") for r in found or [] if r
            }
        return self._roles_of[study]

    def leave_role(self, study: str, user: str, dag: str) -> None:
        """edcconf sets rights per user; a user in a REDCap user role would keep the role's rights."""
        if self.user_roles(study).get(user):
            p = self.project(study)
            self.call(
                study,
                f"taking user {user} out of user role {self.user_roles(study)[user]}",
                p.import_user_role_assignment,
                [{"username": user, "unique_role_name": "", "data_access_group": dag}],
            )
            self._roles_of.pop(study, None)

    # -- the provider interface -------------------------------------------------------------------------
    def apply(self, change: Change) -> None:
        try:
            self._apply(change)
        except _Refused as exc:
            raise ProviderError(change, str(exc)) from None

    def _apply(self, change: Change) -> None:
        if change.kind == "study" and change.after is not None:
            self.ensure_dags(change.key, list(change.after.get("sites", [])))
        if change.kind != "grant" or not change.study:
            return  # accounts are created by REDCap's administrators; a project knows only its users
        study, user = change.study, (change.after or change.before)["user"]
        p = self.project(study)
        members = self.members(study)
        if change.stored is None:
            if user in members:
                try:
                    self.call(study, f"removing user {user}", p.delete_users, [user])
                except _Refused:
                    # a lost answer is sent again by the retry, whose refusal may only say that the first
                    # request already removed the user: look before calling it a failure
                    self._members.pop(study, None)
                    if user in self.members(study):
                        raise
                    members = self.members(study)
                members.discard(user)
            return
        sites = list(self.study_sites.get(study, change.stored.get("sites", [])))
        if dag_of(change.stored, sites, {}):  # a DAG is needed: create it first if the project lacks it
            self.ensure_dags(study, change.stored.get("sites", [])[:1])
        try:
            record = expected_record(
                change.stored, change.role[1] if change.role else {}, sites, self.dags(study), self.version(study)
            )
        except Unsayable as exc:
            raise _Refused(f"{study}: {exc}") from None
        if record.role or (change.role and change.role[1].get("redcap_role")):
            self.assign_role(study, user, record, change.role[1] if change.role else {}, members)
            return
        self.leave_role(study, user, record.data_access_group)  # first: leaving a role keeps the role's rights
        self.call(study, f"the rights of user {user}", p.import_users, [record.to_api()])
        members.add(user)

    # -- REDCap user roles that edcconf manages as roles (adopted from the project) ------------------------
    def project_roles(self, study: str) -> dict[str, dict]:
        """unique role name -> the role as REDCap exports it; read once per run, again after a role import."""
        if study not in self._project_roles:
            p = self.project(study)
            found = self.call(study, "the user role export", p.export_user_roles) or []
            self._project_roles[study] = {str(r.get("unique_role_name")): r for r in found if r}
        return self._project_roles[study]

    def ensure_role(self, study: str, role: Mapping) -> str:
        """The project's user role for an edcconf role managed as a REDCap role, created or updated so that
        its rights are exactly the role's; returns its unique name."""
        spec = role.get("redcap_role") or {}
        roles = self.project_roles(study)
        name = spec.get("name") or next((n for n, r in roles.items() if r.get("role_label") == spec.get("label")), "")
        want = role_record(spec.get("label", ""), name if name in roles else "", role, self.version(study))
        have = roles.get(name)
        if have is None or differences(
            live_record({**have, "username": ""}, self.version(study)),
            live_record({**want, "username": ""}, self.version(study)),
        ):
            p = self.project(study)
            self.call(study, f"the user role {spec.get('label')}", p.import_user_roles, [want])
            self._project_roles.pop(study, None)
            roles = self.project_roles(study)
            name = (
                name
                if name in roles
                else next((n for n, r in roles.items() if r.get("role_label") == spec.get("label")), "")
            )
        if not name:
            raise _Refused(f"REDCap did not create the user role {spec.get('label')!r} in {study}")
        return name

    def assign_role(self, study: str, user: str, record: UserRecord, role: Mapping, members: set[str]) -> None:
        p = self.project(study)
        name = self.ensure_role(study, role)
        if user not in members:  # REDCap maps only users of the project to a role
            self.call(
                study,
                f"adding user {user}",
                p.import_users,
                [{"username": user, "expiration": record.expiration, "data_access_group": record.data_access_group}],
            )
            members.add(user)
        self.call(
            study,
            f"assigning user {user} to user role {name}",
            p.import_user_role_assignment,
            [{"username": user, "unique_role_name": name, "data_access_group": record.data_access_group}],
        )
        self._roles_of.pop(study, None)

    def finish(self, applied: list[Change], effective: Mapping[str, Any]) -> list[str]:
        return []

    # -- reading, for drift, compliance --live and import: a refusal is the user's error to fix ------------
    def read_live(self, study: str, raw: list[dict] | None = None) -> dict[str, UserRecord]:
        """The project's users as REDCap holds them (username -> record, with the user role they are in);
        raw: the user export, when the caller has read it already."""
        version = self.read_version(study)
        in_role = _reading(self.user_roles, study)
        return {
            str(u["username"]): replace(live_record(u, version), role=in_role.get(str(u["username"]), ""))
            for u in (self.read_users_raw(study) if raw is None else raw)
            if u.get("username")
        }

    def read_users_raw(self, study: str) -> list[dict]:
        return _reading(self.users, study)

    def read_user_roles(self, study: str) -> tuple[dict[str, str], dict[str, str]]:
        """(username -> unique role name, unique role name -> role label) of the project."""
        return _reading(self.user_roles, study), {
            name: str(r.get("role_label")) for name, r in self.read_project_roles(study).items()
        }

    def read_project_roles(self, study: str) -> dict[str, dict]:
        return _reading(self.project_roles, study)

    def read_dags(self, study: str) -> dict[str, str]:
        return _reading(self.dags, study)

    def read_version(self, study: str) -> str:
        return _reading(self.version, study)


def _reading(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except _Refused as exc:
        raise UserError(str(exc), code=commands_rules.PROVIDER_ERROR.code) from None


class _Refused(Exception):
    pass


__all__ = ["RedcapProvider", "redcap_projects", "dag_unique_name"]
