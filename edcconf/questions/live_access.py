"""Compliance over live access: each live REDCap user as a role value, and the applied state with the
grants of every study that could be read replaced by what the system holds (`compliance --live`, the
report's live source)."""

from __future__ import annotations

from pathlib import Path

from ..catalogs import RIGHTS, catalog
from ..diagnostics import UserError
from ..model import Environment, level_rank
from ..providers.redcap_records import API_TO_SAG, SAG_EXPORT_OF_CODE
from ..resolve.roles import LEVEL_OF_VIEW
from .drift import read_each


def live_rights(record, contact_forms: set[str]) -> dict:
    """A live REDCap user as a role value (generic rights and SAG keys), for compliance over live access."""

    cat = catalog("redcap")
    assert cat is not None  # shipped with the package
    sag = {key: 0 for key in cat.right_keys}
    sag.update({API_TO_SAG[f]: v for f, v in record.rights.items() if f in API_TO_SAG})
    views = {f: (v if v is not None else 5) for f, v in record.views().items()}  # an unknown code: the most
    levels = {f: LEVEL_OF_VIEW[v] for f, v in views.items()}
    view = 0
    for v in views.values():
        view = cat.join("dataViewing", view, v)
    sag["dataViewing"] = view
    sag["dataExport"] = max((SAG_EXPORT_OF_CODE.get(c, 3) for c in record.forms_export.values()), default=0)
    rights = {r: cat.generic_from_keys(r, sag) or "none" for r in RIGHTS}
    rights["form_access"] = max(levels.values(), key=level_rank, default="none")
    rights["contact_data"] = max(
        (lvl for f, lvl in levels.items() if f in contact_forms), key=level_rank, default="none"
    )
    return {"rights": rights, "redcap": sag, "forms": levels}


def live_effective(root: Path, environment: Environment, applied, model):
    """The applied state with each readable study's grants replaced by what the live system holds, and
    the LiveReads (studies not read keep their applied grants). An environment where no study's target
    reads live access is a UserError (no-live-read); unread studies are the caller's to refuse or report."""

    effective = {k: dict(v) for k, v in applied.effective.items()}
    studies = {
        **{
            s.id: {"system": s.system, "status": s.status, "sites": list(s.sites)}
            for s in model.studies.values()
            if environment.name in s.environments
        },
        **effective.get("studies", {}),
    }
    effective["studies"] = studies
    reads = read_each(root, environment, studies, lambda provider, study: provider.read_live(study))
    if not reads.read and not reads.unread:
        raise UserError(
            "no study of this environment could be read live: "
            + ("; ".join(f"{s}: {why}" for s, why in reads.unchecked) or "it has no studies"),
            code="no-live-read",
        )
    live: dict[str, dict] = {}
    for study_id, users in reads.read.items():
        study = model.studies.get(study_id)
        contact = {f.id for f in study.forms if f.contact} if study else set()
        for user, record in users.items():
            ref = f"{study_id}/live:{user}"
            effective["roles"][ref] = live_rights(record, contact)
            live[f"{study_id}/{user}"] = {
                "study": study_id,
                "user": user,
                "role": "(live)",
                "expires": record.expiration or None,
                "role_ref": ref,
                "data_access_group": record.data_access_group,
            }  # the report's sites
    effective["grants"] = {
        **{k: g for k, g in effective.get("grants", {}).items() if g["study"] not in reads.read},
        **live,
    }
    return effective, reads
