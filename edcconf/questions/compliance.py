"""`compliance`: the six reports of the ACG and SAG documents (seeds 002, 004).

Applied rights are compared with each person's *current* group ceiling (the configuration as it is now),
which is exactly what catches a ceiling lowered after access was granted: users, studies, and user-study
pairs with rights above their ceiling, each with expired people (`all`) and without (`non-expired`);
filtered by user, group, study and right as the ACG report tables are (002); each study's status as the
SAG module's project status page shows it (004); and the users edcconf does not declare (found in the
applied state or, with --live, in a project), who are in REDCap's default group and never "expired".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ..diagnostics import Loc
from ..model import Model
from ..rules.ceilings import group_ceiling, over_ceiling
from ..state import StateRecord

REPORTS = ("users_non_expired", "users_all", "studies_non_expired", "studies_all", "pairs_non_expired", "pairs_all")


def _over(model: Model, group_id: str, system: str, role: dict) -> list[dict]:
    group = model.groups.get(group_id)
    if group is None:
        return []
    keys = role.get("redcap", {}) if system == "redcap" else {}
    return [
        {"right": r, "granted": g, "allowed": a}
        for r, g, a in over_ceiling(group_ceiling(group), role.get("rights", {}), keys)
    ]


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
    profiles: dict[tuple, tuple] = {}  # (study, role_ref) -> (system, rights, REDCap keys)
    by_profile: dict[tuple, list] = {}  # (group, profile) -> rights over the ceiling
    by_role: dict[tuple, list] = {}  # (group, study, role_ref) -> the same, in one look-up
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
            over = by_role[role_key] = _over_once(
                model,
                group_id,
                study.get("system", ""),
                roles.get(grant["role_ref"], {}),
                role_key[1:],
                profiles,
                by_profile,
            )
        if not over:
            continue
        # expired as the systems see it: the grant's (live: the REDCap expiration) or the person's date; a
        # deactivated person's account is disabled. Someone not declared is reported as undeclared, never
        # as expired (they still have the access)
        expired = (person is not None and (person.status == "deactivated" or person.expired(as_of))) or (
            grant.get("expires") is not None and grant["expires"] < as_of.isoformat()
        )
        found.append(
            (
                key,
                {
                    "user": grant["user"],
                    "study": grant["study"],
                    "study_status": study.get("status"),
                    "group": group_id,
                    "role": grant["role"],
                    "expired": expired,
                    "non_compliant": [dict(o) for o in over],  # each pair owns its rows
                    "key": key,
                    "undeclared": person is None,
                },
            )
        )
    found.sort(key=lambda pair: pair[0])  # in grant order; sorting only the few found
    return [row for _, row in found]


def applied_over_ceiling(model, previous: StateRecord, as_of: date) -> list[tuple[dict, Loc]]:
    """Applied grants above their person's current ceiling, each with where the person is declared (the
    warnings of rules.ceilings.at_assignment point there: the group they are in is what changed)."""
    return [
        (pair, model.people[pair["user"]].loc if pair["user"] in model.people else Loc("<state>"))
        for pair in non_compliant_pairs(model, previous, as_of)
    ]


def _over_once(
    model: Model, group_id: str, system: str, role: dict, ref: tuple, profiles: dict, by_profile: dict
) -> list[dict]:
    profile = profiles.get(ref)
    if profile is None:
        profile = profiles[ref] = (system, tuple(role.get("rights", {}).items()), tuple(role.get("redcap", {}).items()))
    over = by_profile.get((group_id, profile))
    if over is None:
        over = by_profile[group_id, profile] = _over(model, group_id, system, role)
    return over


COMPLIANT, NON_COMPLIANT, EXPIRED_ONLY = "compliant", "non-compliant", "expired users only"


def _kept(pair: dict, filters: dict) -> bool:
    """A pair passes the filters (each a set; empty: no filter) of the ACG/SAG report tables (002: by user,
    ACG, project and non-compliant right). A right matches by its name (form_access, redcap.design) or by
    the REDCap key alone (design)."""
    if filters.get("users") and pair["user"] not in filters["users"]:
        return False
    if filters.get("groups") and pair["group"] not in filters["groups"]:
        return False
    if filters.get("studies") and pair["study"] not in filters["studies"]:
        return False
    wanted = filters.get("rights")
    return not wanted or any(
        o["right"] in wanted or o["right"].split(".", 1)[-1] in wanted for o in pair["non_compliant"]
    )


def study_statuses(effective: Mapping[str, Any], pairs: list[dict], studies_wanted=()) -> list[dict]:
    """Each study's status as the SAG module's project status page shows it (004): compliant, non-compliant
    (at least one user who is not expired has rights above their ceiling), or expired users only (every
    user above their ceiling is expired in the study). From every pair, whatever the filters on rights,
    users and groups: a study's status is a fact about all of its users."""
    users: dict[str, set] = {}
    for grant in effective.get("grants", {}).values():
        users.setdefault(grant["study"], set()).add(grant["user"])
    out = []
    for sid, study in sorted(effective.get("studies", {}).items()):
        if studies_wanted and sid not in studies_wanted:
            continue
        mine = [p for p in pairs if p["study"] == sid]
        live = sorted({p["user"] for p in mine if not p["expired"]})
        expired = sorted({p["user"] for p in mine if p["expired"]} - set(live))
        out.append(
            {
                "study": sid,
                "status": study.get("status"),
                "compliance": NON_COMPLIANT if live else EXPIRED_ONLY if expired else COMPLIANT,
                "users": len(users.get(sid, ())),
                "non_compliant_users": live,
                "expired_users": expired,
            }
        )
    return out


def undeclared_users(model: Model, effective: Mapping[str, Any], pairs: list[dict], filters: dict) -> list[dict]:
    """Every user with access (applied, or found live) whom the configuration does not declare, one row per
    study: never reported as expired for that (they still have the access), and above their ceiling when
    the group REDCap puts them in (the default group) does not allow what they hold."""
    over = {(p["user"], p["study"]) for p in pairs}
    group = default_group_of(model)
    rows = {}
    for grant in effective.get("grants", {}).values():
        user, sid = grant["user"], grant["study"]
        if (
            user in model.people
            or (filters.get("users") and user not in filters["users"])
            or (filters.get("studies") and sid not in filters["studies"])
        ):
            continue
        rows[(user, sid)] = {
            "user": user,
            "study": sid,
            "role": grant["role"],
            "group": group,
            "non_compliant": (user, sid) in over,
        }
    return [rows[k] for k in sorted(rows)]


def compliance_reports(
    model: Model, applied: StateRecord, as_of: date, statuses: Iterable[str] = (), filters: dict | None = None
) -> dict:
    """The six reports (users, studies, user-study pairs; non-expired and all), each study's status and
    the undeclared users. filters: {users, groups, studies, rights}, each a collection (empty: all)."""
    filters = {k: set(v) for k, v in (filters or {}).items() if v}
    every = non_compliant_pairs(model, applied, as_of, statuses)
    pairs = [p for p in every if _kept(p, filters)]
    live = [p for p in pairs if not p["expired"]]
    status_of = {s["study"]: s["compliance"] for s in study_statuses(applied.effective, every)}

    def users(rows: list[dict]) -> list[dict]:
        by_user: dict[str, dict] = {}
        for p in rows:
            entry = by_user.setdefault(
                p["user"],
                {"user": p["user"], "group": p["group"], "studies": [], "undeclared": p["undeclared"], "rights": []},
            )
            entry["studies"].append(p["study"])
            entry["rights"] += [o["right"] for o in p["non_compliant"] if o["right"] not in entry["rights"]]
        return list(by_user.values())

    def studies(rows: list[dict]) -> list[dict]:
        by_study: dict[str, dict] = {}
        for p in rows:
            entry = by_study.setdefault(
                p["study"],
                {
                    "study": p["study"],
                    "status": p["study_status"],
                    "users": [],
                    "compliance": status_of.get(p["study"], NON_COMPLIANT),
                },
            )
            entry["users"].append(p["user"])
        return list(by_study.values())

    reports = {
        "users_non_expired": users(live),
        "users_all": users(pairs),
        "studies_non_expired": studies(live),
        "studies_all": studies(pairs),
        "pairs_non_expired": live,
        "pairs_all": pairs,
    }
    wanted_studies = filters.get("studies", ())
    listed = [
        s
        for s in study_statuses(applied.effective, every, wanted_studies)
        if not statuses or s["status"] in set(statuses)
    ]
    return {
        "format_version": 1,
        "environment": applied.environment,
        "serial": applied.serial,
        "as_of": as_of.isoformat(),
        "statuses": sorted(set(statuses)) or None,
        "reports": reports,
        "filters": {k: sorted(v) for k, v in filters.items()} or None,
        "studies": listed,
        "undeclared": undeclared_users(model, applied.effective, every, filters),
    }
