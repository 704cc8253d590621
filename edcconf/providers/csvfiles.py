"""`csv` provider: writes each system's bulk files for an administrator to enact.

OpenClinica 4 has no bulk user import, so per study and environment it writes a checklist of the
actions to take on the Share screen (`checklist-NNNN.csv`, one per apply) and the complete list of
who should have which role at which sites (`users.csv`); accounts and sites changed by an apply get their
own checklists (`accounts-checklist-NNNN.csv`, `sites-checklist-NNNN.csv`). In OpenClinica's checklists
(001): a grant to an account that exists already is `invite` (Share → Invite, an existing user: a new
e-mail invitation), a new account is `create` (Invite a new user → Create User); the `admin_only` column
names what only an Admin (or the OpenClinica Team) can do: editing the global fields of a site (Name,
City, State/Province, Zip, Country, Time Zone) and Central User Administration (editing, deactivating or
reactivating an account).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..fs import real, refuse_leaving_folder, write_atomically
from ..interchange import to_csv
from ..plan import Change
from .base import inside

CHECKLIST_HEADER = [
    "action",
    "username",
    "email",
    "name",
    "user_type",
    "role",
    "base_role",
    "sites",
    "notes",
    "admin_only",
]
# 001, "Global Site Fields": only users with the Admin or OpenClinica Team role can edit these
GLOBAL_SITE_FIELDS = {
    "name": "Site Name",
    "city": "City",
    "state": "State/Province",
    "zip": "Zip",
    "country": "Country",
    "timezone": "Time Zone",
}
ADMIN_ONLY_SITE = "yes: only an Admin or OpenClinica Team user can edit a site's {fields} (001)"
ADMIN_ONLY_ACCOUNT = "yes: Central User Administration (Administration menu), for Admins only (001)"
USERS_HEADER = ["username", "email", "name", "user_type", "role", "base_role", "sites", "expires"]


def users_csv(grants: list[dict], accounts: dict) -> bytes:
    """Who has which role at which sites in one study (OpenClinica has no bulk import: this is its list)."""
    rows = []
    for g in grants:
        if g.get("study_status") == "disabled":
            continue  # a disabled Vault grant (003) is on record in Vault, but nobody has that access
        account = accounts.get(g["user"], {})
        rows.append(
            [
                g["user"],
                account.get("email"),
                account.get("name"),
                account.get("type"),
                g["role"],
                g["base_role"],
                " ".join(g["sites"]),
                g.get("expires") or "",
            ]
        )
    return to_csv(USERS_HEADER, rows)


class CsvProvider:
    batched = True  # its changes become real when finish() writes the files
    finishes_in_files = True  # finish() reads its arguments and writes files only: it may run in a child

    def __init__(
        self,
        system: str,
        root: Path,
        out: str,
        environment: str,
        serial: int,
        vault_defaults: Mapping[str, str] | None = None,
        version: str | None = None,
    ) -> None:
        self.vault_defaults = vault_defaults
        self.version = version
        self.system = system
        self.out = inside(root, out, f"targets.{system}.out")
        refuse_leaving_folder(real(root), self.out, "write bulk files")  # nor through a study's folder
        self.environment = environment
        self.serial = serial
        self.pending: list[Change] = []

    def apply(self, change: Change) -> None:
        self.pending.append(change)  # files are written once, in finish(), from what succeeded

    def finish(self, applied: list[Change], effective: Mapping[str, Any]) -> list[str]:
        pending = {id(c) for c in self.pending}
        mine = [c for c in applied if id(c) in pending]
        accounts = effective.get("accounts", {})
        by_study: dict[str, list[Change]] = {}
        revoked: dict[str, list[dict]] = {}  # Vault keeps access until a row disables it
        for c in mine:
            if c.kind in ("grant", "study") and c.study:
                by_study.setdefault(c.study, []).append(c)
            if c.kind == "grant" and c.action == "revoke" and c.study and c.before:
                revoked.setdefault(c.study, []).append(c.before)
        from .bulk import grants_by_study as index_grants  # local: keeps start-up fast (bulk loads the file formats)

        grants_by_study = index_grants(effective)
        written: list[str] = []
        studies = sorted(
            set(by_study)
            | self._touched(mine, effective, grants_by_study)
            | {
                k
                for k, v in effective.get("studies", {}).items()
                if v.get("system") == self.system and not (self.out / k / "users.csv").exists()
            }
        )
        for study in studies:
            folder = self.out / study
            rows = [self._row(c, accounts, self.system) for c in by_study.get(study, [])]
            if rows:
                path = folder / f"checklist-{self.serial:04d}.csv"
                write_atomically(path, to_csv(CHECKLIST_HEADER, rows), durable=False)
                written.append(str(path))
            write_atomically(folder / "users.csv", users_csv(grants_by_study.get(study, []), accounts), durable=False)
            written.append(str(folder / "users.csv"))
            written += self._system_files(study, effective, grants_by_study.get(study, []), revoked.get(study, ()))
        if studies or any(c.kind in ("group", "account") for c in mine):
            written += self._group_files(effective)
        account_rows = [self._row(c, accounts, self.system) for c in mine if c.kind == "account"]
        if account_rows:
            path = self.out / f"accounts-checklist-{self.serial:04d}.csv"
            write_atomically(path, to_csv(CHECKLIST_HEADER, account_rows), durable=False)
            written.append(str(path))
        site_rows = [site_row(c) for c in mine if c.kind == "site"] if self.system == "openclinica" else []
        if site_rows:  # sites are global in OpenClinica (001): one list, whatever study uses them
            path = self.out / f"sites-checklist-{self.serial:04d}.csv"
            write_atomically(path, to_csv(CHECKLIST_HEADER, site_rows), durable=False)
            written.append(str(path))
        return written

    def _touched(
        self, mine: list[Change], effective: Mapping[str, Any], grants_by_study: Mapping[str, list[dict]]
    ) -> set[str]:
        """This system's studies whose files show an account or a site this run changed: a person's name,
        e-mail and status are in every study file that lists them (Vault disables a deactivated account's
        rows), a site's time zone in Vault's rows."""
        people = {c.key for c in mine if c.kind == "account"}
        places = {c.key for c in mine if c.kind == "site"}
        if not people and not places:
            return set()
        return {
            study
            for study, value in effective.get("studies", {}).items()
            if value.get("system") == self.system
            and (
                places.intersection(value.get("sites", ()))
                or any(g.get("user") in people for g in grants_by_study.get(study, ()))
            )
        }

    def _system_files(self, study: str, effective: Mapping[str, Any], grants: list[dict], revoked=()) -> list[str]:
        """The file the system itself imports: Vault's user import, REDCap's User Rights upload.
        Vault's also disables the grants this apply revoked (Study Status Disabled)."""
        from .files import remove_stale_vault_files, study_files  # local: providers/files imports this module

        if self.system not in ("vault", "redcap"):
            return []
        files = study_files(
            study, self.system, self.environment, effective, self.vault_defaults, grants, revoked, self.version
        )
        written = self._write({f"{study}/{name}": data for name, data in files.items()})
        if self.system == "vault":
            remove_stale_vault_files(self.out / study, files)
        return written

    def _group_files(self, effective: Mapping[str, Any]) -> list[str]:
        """Once per REDCap target and apply: the SAG and ACG files of the groups."""
        from .files import group_files  # local: providers/files imports this module

        if self.system != "redcap":
            return []
        return self._write({f"groups/{name}": data for name, data in group_files(effective).items()})

    def _write(self, files: dict[str, bytes]) -> list[str]:
        for rel, data in files.items():
            write_atomically(self.out / rel, data, durable=False)
        return [str(self.out / rel) for rel in files]

    @staticmethod
    def _row(change: Change, accounts: dict, system: str = "") -> list[object]:
        value = change.after or change.before or {}
        openclinica = system == "openclinica"
        if change.kind == "account":
            admin = ADMIN_ONLY_ACCOUNT if openclinica and change.action != "create" else ""
            notes = change.reason
            if openclinica and change.action == "create":
                notes += "; Share → Invite → Invite a new user → Create User (the username cannot be changed later)"
            return [
                change.action,
                change.key,
                value.get("email"),
                value.get("name"),
                value.get("type"),
                "",
                "",
                "",
                notes,
                admin,
            ]
        if change.kind == "study":
            return [change.action, "", "", "", "", "", "", " ".join(value.get("sites", [])), change.reason, ""]
        account = accounts.get(value.get("user"), {})
        action: str = change.action  # or the sheet's own "invite"
        notes = change.reason
        if change.invite:
            action = "invite"
            notes += "; Share → Invite → select the existing user: OpenClinica sends a new e-mail invitation"
        return [
            action,
            value.get("user"),
            account.get("email"),
            account.get("name"),
            account.get("type"),
            value.get("role"),
            value.get("base_role"),
            " ".join(value.get("sites", [])),
            notes,
            "",
        ]


def site_row(change: Change) -> list[object]:
    """A site change for OpenClinica: a new site is added on a study's Share screen (any Data Manager);
    changing a site's global fields is for an Admin only (001)."""
    value = change.after or change.before or {}
    changed = [
        GLOBAL_SITE_FIELDS[k] for k in GLOBAL_SITE_FIELDS if (change.before or {}).get(k) != (change.after or {}).get(k)
    ]
    admin = ""
    if change.action == "update" and changed:
        admin = ADMIN_ONLY_SITE.format(fields=", ".join(changed))
    notes = change.reason
    if change.action == "create":
        notes += (
            f"; Share → Sites → Add: {value.get('name')} ({value.get('country')}); Expected Number of "
            "Participants is required"
        )
    return [change.action, "", "", value.get("name"), "", "", "", change.key, notes, admin]
