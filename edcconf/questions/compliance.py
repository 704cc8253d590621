"""`compliance`: the six reports of the ACG and SAG documents (seeds 002, 004).

Applied rights are compared with each person's *current* group ceiling (the configuration as it is now),
which is exactly what catches a ceiling lowered after access was granted: users, studies, and user-study
pairs with rights above their ceiling, each with expired people (`all`) and without (`non-expired`).
"""
from __future__ import annotations

from datetime import date
from typing import Iterable

from ..rules.ceilings import group_ceiling, over_ceiling
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
    keys = role.get("redcap", {}) if system == "redcap" else {}
    return [{"right": r, "granted": g, "allowed": a}
            for r, g, a in over_ceiling(group_ceiling(group), role.get("rights", {}), keys)]


def default_group_of(model: Model) -> str:
    """The group REDCap puts a user in who is in no other (002): the one marked default, else no-rights."""
    return next((g.id for g in model.groups.values() if g.default), "no-rights")


def non_compliant_pairs(model: Model, applied: StateRecord, as_of: date, statuses: Iterable[str] = ()) -> list[dict]:
    statuses = set(statuses)
    eff = applied.effective
    grants = eff.get("grants", {})
    if not grants:
        return []
    studies, roles, people = eff["studies"], eff["roles"], model.people
    default_group = default_group_of(model)
    # Every plan runs this over all grants, and a few rights profiles (a role's rights and REDCap keys)
    # serve thousands of roles: compare each group with each profile once.
    profiles: dict[tuple, tuple] = {}      # (study, role_ref) -> (system, rights, REDCap keys)
    by_profile: dict[tuple, list] = {}     # (group, profile) -> rights over the ceiling
    by_role: dict[tuple, list] = {}        # (group, study, role_ref) -> the same, in one look-up
    found = []
    for key, grant in grants.items():
        study = studies.get(grant["study"], {})
        if statuses and study.get("status") not in statuses:
            continue
        person = people.get(grant["user"])
        # someone edcconf never declared (found live) or no longer declares: REDCap puts a user in no group
        # in its default group (002), the built-in no-rights one unless a group is marked default
        group_id = person.group if person else default_group
        role_key = (group_id, grant["study"], grant["role_ref"])
        over = by_role.get(role_key)
        if over is None:
            over = by_role[role_key] = _over_once(model, group_id, study.get("system", ""),
                                                  roles.get(grant["role_ref"], {}), role_key[1:], profiles, by_profile)
        if not over:
            continue
        # expired as the systems see it: the grant's (live: the REDCap expiration) or the person's date; a
        # deactivated person's account is disabled. Someone not declared is reported as undeclared, never
        # as expired (they still have the access)
        expired = ((person is not None and (person.status == "deactivated" or person.expired(as_of)))
                   or (grant.get("expires") is not None and grant["expires"] < as_of.isoformat()))
        found.append((key, {"user": grant["user"], "study": grant["study"], "study_status": study.get("status"),
                            "group": group_id, "role": grant["role"], "expired": expired,
                            "non_compliant": [dict(o) for o in over],  # each pair owns its rows
                            "key": key, "undeclared": person is None}))
    found.sort(key=lambda pair: pair[0])  # in grant order; sorting only the few found
    return [row for _, row in found]


def _over_once(model: Model, group_id: str, system: str, role: dict, ref: tuple, profiles: dict,
               by_profile: dict) -> list[dict]:
    profile = profiles.get(ref)
    if profile is None:
        profile = profiles[ref] = (system, tuple(role.get("rights", {}).items()), tuple(role.get("redcap", {}).items()))
    over = by_profile.get((group_id, profile))
    if over is None:
        over = by_profile[group_id, profile] = _over(model, group_id, system, role)
    return over


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
    unread = {u["study"] for u in doc.get("unread", [])}
    if unread:
        lines.append(f"  {len(doc.get('checked', []))} stud{'y' if len(doc.get('checked', [])) == 1 else 'ies'} "
                     f"read live; {len(unread)} NOT read, reported from the applied state instead:")
    lines += [f"  {'NOT read live' if u['study'] in unread else 'not read live'}: {u['study']}: {u['reason']}"
              for u in doc.get("unchecked", [])]
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
