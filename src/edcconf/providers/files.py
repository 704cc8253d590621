"""The complete set of files an administrator uploads, for one environment's effective state.

REDCap: SAG and ACG definitions and assignments (one per institution) and, per study, the User Rights
upload; Vault: per study, the user import file; OpenClinica: per study, the list of who has which role
at which sites (it has no bulk import). Every file is written atomically.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from ..interchange.acg import write_acg_assignments, write_acg_definitions
from ..interchange.redcap_users import write_redcap_users
from ..interchange.sag import write_sag_assignments, write_sag_definitions
from ..interchange.vault import write_vault_users
from ..state.local import write_atomically
from .bulk import (acg_assignments, acg_definitions, grants_by_study, redcap_users, sag_assignments, sag_definitions,
                   vault_users)
from .csvfiles import users_csv

GROUP_FILES = ("sag-definitions.csv", "sag-assignments.csv", "acg-definitions.csv", "acg-assignments.csv")


def group_files(state: Mapping) -> dict[str, bytes]:
    groups, accounts = state.get("groups", {}), state.get("accounts", {})
    return {"sag-definitions.csv": write_sag_definitions(sag_definitions(groups)),
            "sag-assignments.csv": write_sag_assignments(sag_assignments(accounts, groups)),
            "acg-definitions.csv": write_acg_definitions(acg_definitions(groups)),
            "acg-assignments.csv": write_acg_assignments(acg_assignments(accounts, groups))}


def study_files(study: str, system: str, environment: str, state: Mapping,
                vault_defaults: Mapping[str, str] | None = None, grants: list[dict] | None = None,
                disabled: Iterable[Mapping] = ()) -> dict[str, bytes]:
    """The files of one study; `grants` (that study's, from grants_by_study) keeps many studies linear.
    `disabled`: Vault grants to write with Study Status Disabled (see bulk.vault_users)."""
    if grants is None:
        grants = grants_by_study(state).get(study, [])
    if system == "vault":
        return {"vault-users.csv": write_vault_users(vault_users(environment, state, grants, vault_defaults, disabled))}
    if system == "redcap":
        return {"redcap-users.csv": write_redcap_users(redcap_users(study, state, grants))}
    return {"users.csv": users_csv(grants, state.get("accounts", {}))}


def write_all(out: Path, environment: str, state: Mapping, env_decl=None,
              withdrawn: Mapping[str, list[dict]] | None = None) -> list[str]:
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
    for study, value in sorted(state.get("studies", {}).items()):
        files = study_files(study, value.get("system", ""), environment, state, defaults, by_study.get(study, []),
                            (withdrawn or {}).get(study, ()))
        for name, data in files.items():
            path = Path(out) / study / name
            write_atomically(path, data, durable=False)
            written.append(str(path))
    return written
