"""The complete set of files an administrator uploads, for one environment's effective state.

REDCap: SAG and ACG definitions and assignments (one per institution) and, per study, the User Rights
upload; Vault: per study, the user import file (split in parts of at most 1,000 users, 003's
recommendation); OpenClinica: per study, the list of who has which role at which sites (it has no bulk
import). Every file is written atomically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..fs import write_atomically
from ..interchange.acg import write_acg_assignments, write_acg_definitions
from ..interchange.redcap_users import write_redcap_users
from ..interchange.redcap_versions import DEFAULT_VERSION
from ..interchange.sag import write_sag_assignments, write_sag_definitions
from ..interchange.vault import VaultUser, write_vault_users
from .bulk import (
    acg_assignments,
    acg_definitions,
    grants_by_study,
    redcap_users,
    sag_assignments,
    sag_definitions,
    vault_users,
)
from .csvfiles import users_csv

GROUP_FILES = ("sag-definitions.csv", "sag-assignments.csv", "acg-definitions.csv", "acg-assignments.csv")
VAULT_FILE = "vault-users.csv"
VAULT_PART = "vault-users-{:03d}.csv"  # vault-users-001.csv, -002.csv ... when one file would be too long
VAULT_MAX_ROWS = 1000  # 003: "we also recommend that you not import more than 1000 users at once"
_VAULT_NAME = re.compile(r"vault-users(-\d{3,})?\.csv")


def group_files(state: Mapping) -> dict[str, bytes]:
    groups, accounts = state.get("groups", {}), state.get("accounts", {})
    return {
        "sag-definitions.csv": write_sag_definitions(sag_definitions(groups)),
        "sag-assignments.csv": write_sag_assignments(sag_assignments(accounts, groups)),
        "acg-definitions.csv": write_acg_definitions(acg_definitions(groups)),
        "acg-assignments.csv": write_acg_assignments(acg_assignments(accounts, groups)),
    }


def vault_files(rows: list[VaultUser]) -> dict[str, bytes]:
    """One import file, or parts of VAULT_MAX_ROWS rows each (in user name order) when there are more."""
    if len(rows) <= VAULT_MAX_ROWS:
        return {VAULT_FILE: write_vault_users(rows)}
    return {
        VAULT_PART.format(n // VAULT_MAX_ROWS + 1): write_vault_users(rows[n : n + VAULT_MAX_ROWS])
        for n in range(0, len(rows), VAULT_MAX_ROWS)
    }


def remove_stale_vault_files(folder: Path, written: Iterable[str]) -> None:
    """Vault files of the study that this run did not write (a single file after parts, parts after a
    single file, or parts beyond the last): left in place, an administrator could import access that is
    no longer meant to be there."""
    keep = set(written)
    if folder.is_dir():
        for path in folder.iterdir():
            if _VAULT_NAME.fullmatch(path.name) and path.name not in keep:
                path.unlink()


def study_files(
    study: str,
    system: str,
    environment: str,
    state: Mapping,
    vault_defaults: Mapping[str, str] | None = None,
    grants: list[dict] | None = None,
    disabled: Iterable[Mapping] = (),
    redcap_version: str | None = None,
) -> dict[str, bytes]:
    """The files of one study; `grants` (that study's, from grants_by_study) keeps many studies linear.
    `disabled`: Vault grants to write with Study Status Disabled (see bulk.vault_users); `redcap_version`:
    the REDCap version of the target (its columns and codes)."""
    if grants is None:
        grants = grants_by_study(state).get(study, [])
    if system == "vault":
        return vault_files(vault_users(environment, state, grants, vault_defaults, disabled))
    if system == "redcap":
        version = redcap_version or DEFAULT_VERSION
        return {"redcap-users.csv": write_redcap_users(redcap_users(study, state, grants, version), version)}
    return {"users.csv": users_csv(grants, state.get("accounts", {}))}


def write_all(
    out: Path, environment: str, state: Mapping, env_decl=None, withdrawn: Mapping[str, list[dict]] | None = None
) -> list[str]:
    """Every file of the environment. `withdrawn`: per study, declared grants the state leaves out because
    their person is deactivated or expired or the grant expired (resolve.effective.withdrawn_grants):
    a Vault study's file disables them."""
    written = []
    for name, data in group_files(state).items():
        path = Path(out) / "groups" / name
        write_atomically(path, data, durable=False)
        written.append(str(path))
    by_study = grants_by_study(state)
    target = env_decl.targets.get("vault") if env_decl is not None else None
    defaults = target.vault_user_defaults if target is not None else None
    redcap = env_decl.targets.get("redcap") if env_decl is not None else None
    for study, value in sorted(state.get("studies", {}).items()):
        files = study_files(
            study,
            value.get("system", ""),
            environment,
            state,
            defaults,
            by_study.get(study, []),
            (withdrawn or {}).get(study, ()),
            redcap.version if redcap else None,
        )
        for name, data in files.items():
            path = Path(out) / study / name
            write_atomically(path, data, durable=False)
            written.append(str(path))
        if value.get("system") == "vault":
            remove_stale_vault_files(Path(out) / study, files)
    return written
