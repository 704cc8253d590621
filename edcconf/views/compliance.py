"""`compliance` as text and CSV: the six reports of the ACG and SAG documents (002, 004), each study's
status and the undeclared users, from the data questions.compliance.compliance_reports returns."""

from __future__ import annotations

from ..interchange import to_csv
from ..questions.compliance import NON_COMPLIANT, REPORTS

TITLES = {
    "users_non_expired": "Users with non-compliant rights (non-expired)",
    "users_all": "Users with non-compliant rights (all)",
    "studies_non_expired": "Studies with non-compliant rights (non-expired)",
    "studies_all": "Studies with non-compliant rights (all)",
    "pairs_non_expired": "Users and studies with non-compliant rights (non-expired)",
    "pairs_all": "Users and studies with non-compliant rights (all)",
}


def render_compliance(doc: dict) -> str:
    what = "live access read from the systems" if doc.get("source") == "live" else f"applied serial {doc['serial']}"
    lines = [f"Compliance of {doc['environment']} ({what}) against the current ceilings, as of {doc['as_of']}"]
    if doc.get("filters"):
        lines.append("  filtered: " + "; ".join(f"{k} {', '.join(v)}" for k, v in doc["filters"].items()))
    unread = {u["study"] for u in doc.get("unread", [])}
    if unread:
        lines.append(
            f"  {len(doc.get('checked', []))} stud{'y' if len(doc.get('checked', [])) == 1 else 'ies'} "
            f"read live; {len(unread)} NOT read, reported from the applied state instead:"
        )
    lines += [
        f"  {'NOT read live' if u['study'] in unread else 'not read live'}: {u['study']}: {u['reason']}"
        for u in doc.get("unchecked", [])
    ]
    lines.append("")
    if doc.get("studies"):
        lines.append("Study status:")
        for s in doc["studies"]:
            who = "; ".join(
                x
                for x in (
                    f"non-compliant: {', '.join(s['non_compliant_users'])}" if s["non_compliant_users"] else "",
                    f"expired: {', '.join(s['expired_users'])}" if s["expired_users"] else "",
                )
                if x
            )
            lines.append(
                f"  {s['study']} ({s['status'] or 'no status'}): {s['compliance'].upper()}, "
                f"{s['users']} user{'' if s['users'] == 1 else 's'}" + (f" ({who})" if who else "")
            )
        lines.append("")
    if doc.get("undeclared"):
        lines.append(
            f"Undeclared users (in no group of the configuration; REDCap's default group is "
            f"{doc['undeclared'][0]['group']}): {len(doc['undeclared'])}"
        )
        lines += [
            f"  {u['user']} in {u['study']} as {u['role']}" + (" [above the ceiling]" if u["non_compliant"] else "")
            for u in doc["undeclared"]
        ]
        lines.append("")
    for name in REPORTS:
        rows = doc["reports"][name]
        lines.append(f"{TITLES[name]}: {len(rows)}")
        for r in rows:
            if name.startswith("users"):
                lines.append(
                    f"  {r['user']} (group {r['group']}){' [undeclared]' if r.get('undeclared') else ''}: "
                    f"{', '.join(r['studies'])}"
                )
            elif name.startswith("studies"):
                lines.append(
                    f"  {r['study']} ({r['status'] or 'no status'}, {r.get('compliance', NON_COMPLIANT)}): "
                    f"{', '.join(r['users'])}"
                )
            else:
                rights = "; ".join(f"{o['right']} {o['granted']} (allowed {o['allowed']})" for o in r["non_compliant"])
                marks = (" [expired]" if r["expired"] else "") + (" [undeclared]" if r.get("undeclared") else "")
                lines.append(f"  {r['user']} in {r['study']} as {r['role']}{marks}: {rights}")
        lines.append("")
    return "\n".join(lines)


def compliance_csv(doc: dict, report: str) -> str:
    """One report as CSV, as the ACG Reports tab exports it (002): users and studies one row each, pairs
    one row per non-compliant right (the columns of earlier versions first)."""
    rows = doc["reports"][report]
    yes = lambda flag: "yes" if flag else "no"  # noqa: E731
    if report.startswith("users"):
        return to_csv(
            ["user", "group", "undeclared", "studies", "rights"],
            [
                [r["user"], r["group"], yes(r.get("undeclared")), " ".join(r["studies"]), " ".join(r["rights"])]
                for r in rows
            ],
        ).decode("utf-8")
    if report.startswith("studies"):
        return to_csv(
            ["study", "study_status", "compliance", "users"],
            [[r["study"], r["status"] or "", r["compliance"], " ".join(r["users"])] for r in rows],
        ).decode("utf-8")
    return to_csv(
        ["user", "study", "study_status", "group", "role", "expired", "right", "granted", "allowed", "undeclared"],
        [
            [
                p["user"],
                p["study"],
                p["study_status"] or "",
                p["group"],
                p["role"],
                yes(p["expired"]),
                o["right"],
                o["granted"],
                o["allowed"],
                yes(p.get("undeclared")),
            ]
            for p in rows
            for o in p["non_compliant"]
        ],
    ).decode("utf-8")
