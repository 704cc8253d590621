"""Access review campaigns as data (docs/reviews.md): what a campaign reviews (the packets `review start`
writes, from the applied state), where each study's review stands (`review status`), and the attestations
`apply` records in the audit log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..model import Model, ReviewCampaign
from ..rules.reviews import CONFIRMED, campaign_phase, outcome


@dataclass(frozen=True)
class PacketRow:
    """One grant under review, as applied."""

    key: str
    username: str
    name: str
    role: str
    base_role: str
    sites: tuple[str, ...]
    forms: Mapping[str, str]  # form -> level
    expires: str | None
    changed_commit: str | None  # the apply that last changed the grant (audit log): its commit and day
    changed_on: str | None


@dataclass(frozen=True)
class Packet:
    """One study's part of a campaign: its PI and every applied grant of the environment."""

    campaign: str
    environment: str
    study: str
    study_name: str
    pi: str | None
    pi_name: str | None
    started: str
    due: str
    state_serial: int
    rows: tuple[PacketRow, ...] = field(default_factory=tuple)

    @property
    def forms(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row.forms))
        return list(seen)


def last_changes(audit: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str | None, str | None]]:
    """grant key -> (commit, day) of the last applied change of it, from the audit log (oldest first)."""
    out: dict[str, tuple[str | None, str | None]] = {}
    for entry in audit:
        change = entry.get("change") if entry.get("event") == "change" else None
        if isinstance(change, Mapping) and change.get("kind") == "grant":
            out[str(change.get("key"))] = (entry.get("commit"), str(entry.get("time") or "")[:10] or None)
    return out


def campaign_packets(
    model: Model,
    applied: Mapping[str, Any],
    serial: int,
    changed: Mapping[str, tuple[str | None, str | None]],
    campaign: str,
    environment: str,
    started: date,
    due: date,
) -> list[Packet]:
    """Per study with applied grants in the environment, its packet (studies in id order, people by
    username). applied: the environment's applied effective state."""
    grants, roles, accounts = applied.get("grants", {}), applied.get("roles", {}), applied.get("accounts", {})
    studies_state = applied.get("studies", {})
    by_study: dict[str, list[PacketRow]] = {}
    for key, grant in grants.items():
        forms = roles.get(grant.get("role_ref") or "", {}).get("forms", {})
        if grant.get("study_status") == "disabled":
            forms = dict.fromkeys(forms, "none")
        commit, when = changed.get(key, (None, None))
        by_study.setdefault(grant["study"], []).append(
            PacketRow(
                key,
                grant["user"],
                str(accounts.get(grant["user"], {}).get("name") or grant["user"]),
                grant["role"],
                grant.get("base_role", ""),
                tuple(grant.get("sites") or ()),
                dict(forms),
                grant.get("expires"),
                commit,
                when,
            )
        )
    out = []
    for sid in sorted(by_study):
        study = model.studies.get(sid)
        pi = study.protocol.pi if study is not None and study.protocol is not None else None
        person = model.people.get(pi) if pi else None
        out.append(
            Packet(
                campaign,
                environment,
                sid,
                study.name if study is not None else str(studies_state.get(sid, {}).get("name") or sid),
                pi,
                person.name if person is not None else None,
                started.isoformat(),
                due.isoformat(),
                serial,
                tuple(sorted(by_study[sid], key=lambda r: r.key)),
            )
        )
    return out


def review_status(
    model: Model, as_of: date, campaign: str | None = None, environment: str | None = None
) -> list[dict[str, Any]]:
    """One row per campaign and study: under review, confirmed, revoked, pending, due, overdue, phase."""
    rows = []
    for c in sorted(model.reviews.values(), key=lambda c: (c.environment, c.started, c.id)):
        if (campaign is not None and c.id != campaign) or (environment is not None and c.environment != environment):
            continue
        phase = campaign_phase(c, as_of)
        for sid, review in sorted(c.studies.items()):
            res = outcome(review)
            rows.append(
                {
                    "campaign": c.id,
                    "environment": c.environment,
                    "study": sid,
                    "pi": review.pi,
                    "under_review": len(review.grants),
                    "confirmed": len(res.confirmed),
                    "revoked": len(res.revoked),
                    "pending": len(res.pending),
                    "due": c.due.isoformat(),
                    "overdue": phase == "overdue" and bool(res.pending),
                    "after_due": c.after_due,
                    "complete": not res.pending,
                    "pending_grants": list(res.pending),
                }
            )
    return rows


def attestations(campaigns: Iterable[ReviewCampaign], environment: str) -> list[dict[str, Any]]:
    """Every committed decision of the environment's campaigns, one per grant key: what `apply` records
    in the audit log (event `attestation`; `attestation_id` says when one is already recorded)."""
    out = []
    for c in sorted(campaigns, key=lambda c: c.id):
        if c.environment != environment:
            continue
        for sid, review in sorted(c.studies.items()):
            for d in review.decisions:
                by = d.by
                if by.commit is None:
                    continue  # not attested: nobody is on record (review-unattributed)
                for key in d.keys:
                    decision = "confirmed" if d.decision == CONFIRMED else "revoked"
                    out.append(
                        {
                            "event": "attestation",
                            "attestation_id": f"{c.id}:{key}:{decision}:{by.commit}",
                            "campaign": c.id,
                            "study": sid,
                            "grant": key,
                            "decision": decision,
                            "by": by.author,
                            "by_email": by.email,
                            "on": by.when.isoformat() if by.when else None,
                            "decision_commit": by.commit,
                        }
                    )
    return out
