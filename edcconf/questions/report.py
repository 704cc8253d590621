"""`report`: the access matrix per environment, as a self-contained HTML page, CSV and JSON.

People × forms per study with their levels; expired and external people are marked. The page needs no
network: styles, data and script are inline; filters by site, role and person also read the URL
fragment (`#site=MGH&role=crc&person=jane`), so a link can share a filtered view.
"""
from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from ..pipeline import Desired
from ..state.local import write_atomically


def matrix(desired: Desired, env: str) -> dict:
    model, resolution = desired.model, desired.resolution
    env_state = resolution.environments[env]
    state = env_state.state
    studies = []
    for study in model.studies.values():
        if env not in study.environments or study.id not in state["studies"]:
            continue
        rows = []
        for grant in study.access:
            key = grant.key
            person = model.people.get(grant.user)
            role = resolution.roles.get((study.id, grant.role))
            if person is None or role is None:
                continue
            effective = state["grants"].get(key)
            why = env_state.excluded.get(key)
            if effective is None and (why is None or "not granted in" in why.reason):
                continue  # declared for another environment only
            disabled = effective is not None and effective.get("study_status") == "disabled"   # Vault, 003
            left_out = why.reason if why is not None else ""   # read only with no effective grant: why is set then
            status = ("disabled" if disabled else "active") if effective else (
                "expired" if "expired" in left_out else "deactivated")
            rows.append({"user": grant.user, "name": person.name, "role": grant.role, "base_role": role.base.id,
                         "sites": effective["sites"] if effective else [],
                         "expires": effective["expires"] if effective else None,
                         "status": status,
                         "note": "Study Status Disabled: on record in Vault, no access" if disabled
                         else None if effective else left_out,
                         "external": person.external.organization if person.external else None,
                         "admin": person.type == "admin",
                         "forms": dict.fromkeys(role.forms, "none") if disabled else dict(role.forms)})
        studies.append({"id": study.id, "name": study.name, "system": study.system, "sites": sorted(study.sites),
                        "forms": [f.id for f in study.forms], "rows": rows})
    return {"format_version": 1, "environment": env, "as_of": resolution.as_of.isoformat(), "studies": studies}


def matrix_csv(doc: dict) -> str:
    from ..providers.csvfiles import to_csv

    return to_csv(["study", "user", "name", "role", "base_role", "sites", "status", "external", "form", "level"],
                  [[study["id"], row["user"], row["name"], row["role"], row["base_role"], " ".join(row["sites"]),
                    row["status"], row["external"] or "", form, row["forms"][form]]
                   for study in doc["studies"] for row in study["rows"] for form in study["forms"]]).decode("utf-8")


def write_report(desired: Desired, env: str, out_dir: Path) -> list[Path]:
    doc = matrix(desired, env)
    template = Environment(loader=PackageLoader("edcconf.views", "templates"),
                           autoescape=select_autoescape(["html", "j2"])).get_template("report.html.j2")
    # the data travels inside a <script> element: keep "</" out of it
    data = json.dumps(doc).replace("</", "<\\/")
    sites = sorted({s for study in doc["studies"] for s in study["sites"]})
    roles = sorted({r["role"] for study in doc["studies"] for r in study["rows"]})
    html = template.render(doc=doc, data=data, sites=sites, roles=roles)
    paths = [out_dir / f"{env}.html", out_dir / f"{env}.csv", out_dir / f"{env}.json"]
    write_atomically(paths[0], html.encode(), durable=False)
    write_atomically(paths[1], matrix_csv(doc).encode(), durable=False)
    write_atomically(paths[2], json.dumps(doc, indent=1).encode() + b"\n", durable=False)
    return paths
