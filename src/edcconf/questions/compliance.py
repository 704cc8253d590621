"""`compliance`: the six reports of the ACG and SAG documents (seeds 002, 004).

Applied rights are compared with each person's *current* group ceiling (the configuration as it is now),
which is exactly what catches a ceiling lowered after access was granted: users, studies, and user-study
pairs with rights above their ceiling, each with expired people (`all`) and without (`non-expired`).
"""
from __future__ import annotations

from datetime import date
from typing import Iterable

from ..catalogs import catalog, right_rank
from ..model import Model
from ..state import StateRecord

REPORTS = ("users_non_expired", "users_all", "studies_non_expired", "studies_all", "pairs_non_expired", "pairs_all")
TITLES = {
    "users_non_expired": "Users with non-compliant rights (non-expired)",
    "users_all": "Users with non-compliant rights (all)",
    "studies_non_expired": "Studies with non-compliant rights (non-expired)",
    "studies_all": "Studies with non-compliant rights (all)",
    "pairs_non_expired": "Users and studies with non-compliant rights (non-expired)",
    "pairs_all": "Users and studies with non-compliant rights (all)",
}


def _over(model: Model, group_id: str, system: str, role: dict) -> list[dict]:
    group = model.groups.get(group_id)
    if group is None:
        return []
    out = [{"right": r, "granted": v, "allowed": group.ceiling[r]} for r, v in role.get("rights", {}).items()
           if r in group.ceiling and right_rank(r, v) > right_rank(r, group.ceiling[r])]
    cat = catalog(system)
    if cat is not None and cat.right_keys and group.redcap_ceiling:
        keys = role.get("redcap", {})
        out += [{"right": f"redcap.{k}", "granted": keys.get(k, 0), "allowed": allowed}
                for k, allowed in group.redcap_ceiling.items()
                if cat.key_rank(k, keys.get(k, 0)) > cat.key_rank(k, allowed)]
    return out


def non_compliant_pairs(model: Model, applied: StateRecord, as_of: date, statuses: Iterable[str] = ()) -> list[dict]:
    statuses = set(statuses)
    eff = applied.effective
    out = []
    for key, grant in sorted(eff.get("grants", {}).items()):
        study = eff["studies"].get(grant["study"], {})
        if statuses and study.get("status") not in statuses:
            continue
        person = model.people.get(grant["user"])
        group_id = person.group if person else "no-rights"  # someone removed from the configuration
        over = _over(model, group_id, study.get("system", ""), eff["roles"].get(grant["role_ref"], {}))
        if not over:
            continue
        expired = (person is None or person.status == "deactivated" or person.expired(as_of)
                   or (grant.get("expires") is not None and grant["expires"] < as_of.isoformat()))
        out.append({"user": grant["user"], "study": grant["study"], "study_status": study.get("status"),
                    "group": group_id, "role": grant["role"], "expired": expired, "non_compliant": over})
    return out


def compliance_reports(model: Model, applied: StateRecord, as_of: date, statuses: Iterable[str] = ()) -> dict:
    pairs = non_compliant_pairs(model, applied, as_of, statuses)
    live = [p for p in pairs if not p["expired"]]

    def users(rows: list[dict]) -> list[dict]:
        by_user: dict[str, dict] = {}
        for p in rows:
            entry = by_user.setdefault(p["user"], {"user": p["user"], "group": p["group"], "studies": []})
            entry["studies"].append(p["study"])
        return list(by_user.values())

    def studies(rows: list[dict]) -> list[dict]:
        by_study: dict[str, dict] = {}
        for p in rows:
            entry = by_study.setdefault(p["study"], {"study": p["study"], "status": p["study_status"], "users": []})
            entry["users"].append(p["user"])
        return list(by_study.values())

    reports = {"users_non_expired": users(live), "users_all": users(pairs), "studies_non_expired": studies(live),
               "studies_all": studies(pairs), "pairs_non_expired": live, "pairs_all": pairs}
    return {"format_version": 1, "environment": applied.environment, "serial": applied.serial,
            "as_of": as_of.isoformat(), "statuses": sorted(set(statuses)) or None, "reports": reports}


def render_compliance(doc: dict) -> str:
    what = ("live access read from the systems" if doc.get("source") == "live"
            else f"applied serial {doc['serial']}")
    lines = [f"Compliance of {doc['environment']} ({what}) against the current ceilings, as of {doc['as_of']}"]
    lines += [f"  not read live: {u['study']}: {u['reason']}" for u in doc.get("unchecked", [])]
    lines.append("")
    for name in REPORTS:
        rows = doc["reports"][name]
        lines.append(f"{TITLES[name]}: {len(rows)}")
        for r in rows:
            if name.startswith("users"):
                lines.append(f"  {r['user']} (group {r['group']}): {', '.join(r['studies'])}")
            elif name.startswith("studies"):
                lines.append(f"  {r['study']} ({r['status'] or 'no status'}): {', '.join(r['users'])}")
            else:
                rights = "; ".join(f"{o['right']} {o['granted']} (allowed {o['allowed']})" for o in r["non_compliant"])
                lines.append(f"  {r['user']} in {r['study']} as {r['role']}{' [expired]' if r['expired'] else ''}: "
                             f"{rights}")
        lines.append("")
    return "\n".join(lines)


def compliance_csv(doc: dict, report: str) -> str:
    from ..providers.csvfiles import to_csv

    pairs = doc["reports"][report if report.startswith("pairs") else "pairs_" + report.split("_", 1)[1]]
    return to_csv(["user", "study", "study_status", "group", "role", "expired", "right", "granted", "allowed"],
                  [[p["user"], p["study"], p["study_status"] or "", p["group"], p["role"], "yes" if p["expired"] else "no",
                    o["right"], o["granted"], o["allowed"]] for p in pairs for o in p["non_compliant"]]).decode("utf-8")
