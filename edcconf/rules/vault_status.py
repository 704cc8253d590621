"""Study Status of a grant (Veeva Vault CDMS, 003 "Managing Study User Access in EDC Tools").

Vault sets Study Access per user and study to Enabled (the user may access the study's records) or
Disabled (the user stays in the study with their role and sites, but may not access it); the user
import file carries it in the Study Status column. A grant declares it with `study_status: enabled`
(the default) or `disabled`. REDCap and OpenClinica have no such switch: there a grant that gives no
access is a grant not declared, so `study_status: disabled` on their grants is an error.
"""

from __future__ import annotations

from ..catalogs import catalog
from ..diagnostics import Diagnostic, error
from ..model import Model
from .book import rule

FAMILY = "vault_status"

STUDY_STATUS_NOT_VAULT = rule(
    "study-status-not-vault",
    family=FAMILY,
    source="003",
    kind="error",
    summary="`study_status: disabled` is only declared on grants of Vault studies",
    text=(
        "`study_status: disabled` is only declared on grants of Vault studies: Vault's Study Access is "
        "Enabled or Disabled per user and study (a disabled grant stays on record with its role and "
        "sites, gives no access, and is written `Disabled` in the user import's Study Status column); "
        "REDCap and OpenClinica have no such switch, so there the grant is removed instead"
    ),
    example=(
        "jane.doe's grant in DIAB-03 says study_status: disabled, which only a Veeva Vault study has "
        "(003: Study Access Enabled/Disabled); DIAB-03 is a REDCap study: remove the grant to take the "
        "access away"
    ),
)


def check_study_status(model: Model) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for study in model.studies.values():
        if study.system == "vault":
            continue
        for grant in study.access:
            if grant.disabled:
                cat = catalog(study.system)
                label = cat.label if cat is not None else study.system
                out.append(
                    error(
                        STUDY_STATUS_NOT_VAULT.code,
                        f"{grant.user}'s grant in {study.id} says study_status: disabled, which only a Veeva "
                        f"Vault study has (003: Study Access Enabled/Disabled); {study.id} is a {label} "
                        "study: remove the grant to take the access away",
                        grant.locs.get("study_status", grant.loc),
                    )
                )
    return out
