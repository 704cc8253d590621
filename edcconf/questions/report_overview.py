"""The report's overview as plain data: the figures its charts draw, bounded whatever the organisation's size.

From the matrix (questions.report), the applied grants above their group's current ceiling
(questions.compliance.non_compliant_pairs) and the plan's changes against the last applied state
(plan.make_plan). Every list a chart draws is cut to a limit; what is cut is counted, never dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta

from ..model import LEVEL_RANK
from ..plan import ADD_ACTIONS, REVOKE_ACTIONS

LIMITS = {"people": 60, "studies": 40, "bars": 25, "expiry_days": 90, "rows": 100}


def overview(
    doc: dict, pairs: list[dict] | None, changes: Iterable | None, limits: dict | None = None, unavailable: str = ""
) -> dict:
    """pairs: non_compliant_pairs(...); changes: the plan's Changes; either None when the applied state
    could not be read (unavailable says why): the page then says so instead of showing nothing."""
    lim = {**LIMITS, **(limits or {})}
    as_of = date.fromisoformat(doc["as_of"])
    active = [(s["id"], r) for s in doc["studies"] for r in s["rows"] if r["status"] == "active"]
    return {
        "totals": _totals(doc, active),
        "heatmap": heatmap(active, doc, lim["people"], lim["studies"]),
        "sites": _top(Counter(site for _, r in active for site in r["sites"]), lim["bars"]),
        "roles": _top(Counter(r["role"] for _, r in active), lim["bars"]),
        "expiries": expiries(active, as_of, lim["expiry_days"], lim["rows"]),
        "non_compliant": non_compliant(pairs, lim["bars"], lim["rows"], unavailable),
        "pending": pending(changes, lim["bars"], unavailable),
        "studies": _study_index(doc, pairs, changes),
        "limits": lim,
    }


def _totals(doc: dict, active: list) -> dict:
    return {
        "studies": len(doc["studies"]),
        "people": len({r["user"] for _, r in active}),
        "grants": len(active),
        "not_active": sum(len(s["rows"]) for s in doc["studies"]) - len(active),
        "not_read": [s["id"] for s in doc["studies"] if s.get("live", "read") != "read"],
    }


def _top(counts: Counter, limit: int) -> dict:
    """The `limit` largest (ties by name), and how many more and how much they hold."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    rest = ranked[limit:]
    return {
        "bars": [{"label": k, "value": v} for k, v in ranked[:limit]],
        "total": len(ranked),
        "rest_count": len(rest),
        "rest_value": sum(v for _, v in rest),
    }


def heatmap(active: list, doc: dict, people_limit: int, studies_limit: int) -> dict:
    """people × studies, each cell the highest form level a person has in a study (0 none … 3 edit). The
    people in the most studies and the studies with the most people are shown; the rest are counted."""
    cell: dict[tuple[str, str], int] = {}
    for sid, row in active:
        best = max((LEVEL_RANK[lvl] for lvl in row["forms"].values()), default=0)
        cell[row["user"], sid] = max(cell.get((row["user"], sid), 0), best)
    per_person, per_study = Counter(u for u, _ in cell), Counter(s for _, s in cell)
    people = [u for u, _ in sorted(per_person.items(), key=lambda kv: (-kv[1], kv[0]))[:people_limit]]
    studies = [s for s, _ in sorted(per_study.items(), key=lambda kv: (-kv[1], kv[0]))[:studies_limit]]
    shown, chosen = set(studies), set(people)
    return {
        "people": people,
        "studies": studies,
        "people_total": len(per_person),
        "studies_total": len(per_study),
        "cells": [
            {"user": u, "study": s, "level": lvl} for (u, s), lvl in sorted(cell.items()) if s in shown and u in chosen
        ],
        "studies_without_access": len(doc["studies"]) - len(per_study),
    }


def expiries(active: list, as_of: date, days: int, rows: int) -> dict:
    end = as_of + timedelta(days=days)
    found = sorted(
        (r["expires"], sid, r["user"], r["role"])
        for sid, r in active
        if r.get("expires") and as_of.isoformat() <= r["expires"] <= end.isoformat()
    )
    return {
        "from": as_of.isoformat(),
        "to": end.isoformat(),
        "days": days,
        "total": len(found),
        "per_day": [{"date": d, "count": n} for d, n in sorted(Counter(e for e, *_ in found).items())],
        "rows": [{"expires": e, "study": s, "user": u, "role": role} for e, s, u, role in found[:rows]],
    }


def non_compliant(pairs: list[dict] | None, bars: int, rows: int, unavailable: str) -> dict:
    if pairs is None:
        return {"available": False, "reason": unavailable}
    return {
        "available": True,
        "total": len(pairs),
        "per_study": _top(Counter(p["study"] for p in pairs), bars),
        "rows": [
            {
                "study": p["study"],
                "user": p["user"],
                "role": p["role"],
                "group": p["group"],
                "expired": p["expired"],
                "rights": [f"{o['right']} {o['granted']} (allowed {o['allowed']})" for o in p["non_compliant"]],
            }
            for p in pairs[:rows]
        ],
    }


def _kind_of(action: str) -> str:
    return "add" if action in ADD_ACTIONS else "revoke" if action in REVOKE_ACTIONS else "change"


def pending(changes: Iterable | None, bars: int, unavailable: str) -> dict:
    """The plan's changes per study (grants and the study itself) and how many concern no one study."""
    if changes is None:
        return {"available": False, "reason": unavailable}
    per: dict[str, Counter] = {}
    other: Counter[str] = Counter()
    summary: Counter[str] = Counter()
    for change in changes:
        kind = _kind_of(change.action)
        summary[kind] += 1
        (per.setdefault(change.study, Counter()) if change.study else other)[kind] += 1
    ranked = sorted(per.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    shown = [{"study": s, **{k: c[k] for k in ("add", "change", "revoke")}} for s, c in ranked[:bars]]
    return {
        "available": True,
        "summary": {k: summary[k] for k in ("add", "change", "revoke")},
        "studies": shown,
        "studies_total": len(per),
        "rest": {k: sum(c[k] for _, c in ranked[bars:]) for k in ("add", "change", "revoke")},
        "other": {k: other[k] for k in ("add", "change", "revoke")},
    }


def _study_index(doc: dict, pairs: list[dict] | None, changes: Iterable | None) -> list[dict]:
    """One line per study for the overview's list (every study, each linking to its page)."""
    over = Counter(p["study"] for p in pairs or ())
    planned = Counter(c.study for c in changes or () if c.study)
    return [
        {
            "id": s["id"],
            "name": s["name"],
            "system": s["system"],
            "grants": sum(r["status"] == "active" for r in s["rows"]),
            "people": len({r["user"] for r in s["rows"] if r["status"] == "active"}),
            "non_compliant": over[s["id"]] if pairs is not None else None,
            "pending": planned[s["id"]] if changes is not None else None,
            "live": s.get("live", "read"),
            "live_reason": s.get("live_reason", ""),
        }
        for s in doc["studies"]
    ]
