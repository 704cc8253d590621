"""`show`: the applied effective state as tables per study (people × role × sites × form levels)."""

from __future__ import annotations

from collections.abc import Mapping

from ..plan.brakes import applied_guards
from ..resolve.effective import expand_grant
from ..state import StateRecord

_ABBREV = {"none": "-", "read": "R", "review": "V", "edit": "E"}


def state_json(record: StateRecord) -> dict:
    """The applied state with every grant expanded (form levels joined in), for --json."""
    eff = record.effective
    return {
        "format_version": 1,
        "environment": record.environment,
        "serial": record.serial,
        "lineage": record.lineage,
        "applied_at": record.applied_at,
        "commit": record.commit,
        "accounts": eff.get("accounts", {}),
        "sites": eff.get("sites", {}),
        "groups": eff.get("groups", {}),
        "studies": eff.get("studies", {}),
        "grants": {k: expand_grant(eff, g) for k, g in sorted(eff.get("grants", {}).items())},
        "observed": eff.get("observed", {}),  # e.g. Vault's Last Login (003), from state import
        "guards": applied_guards(eff, record.environment),
    }  # None: recorded by no apply yet


def render_state(record: StateRecord) -> str:
    if not record.exists:
        return (
            f"Nothing has been applied to {record.environment} yet. Run `edcconf plan --env "
            f"{record.environment}` to see what would be.\n"
        )
    eff = record.effective
    lines = [
        f"Environment {record.environment}: state serial {record.serial}, applied {record.applied_at}"
        + (f" from commit {record.commit[:12]}" if record.commit else "")
    ]
    guards = applied_guards(eff, record.environment)
    if guards is not None:  # what the next plan and apply are held to (plan/brakes.py)
        limits = ", ".join(f"{k} {v}" for k, v in sorted(guards["safety"].items()))
        lines.append(f"Guards as applied: {'protected' if guards['protected'] else 'not protected'}; safety {limits}")
    lines.append("")
    grants = eff.get("grants", {})
    for study_id, study in sorted(eff.get("studies", {}).items()):
        rows = [
            row
            for _, g in sorted(grants.items())
            if g["study"] == study_id
            if (row := expand_grant(eff, g)) is not None
        ]  # never None: g is a grant
        lines.append(f"Study {study_id} — {study['name']} ({study['system']}; sites {', '.join(study['sites'])})")
        if not rows:
            lines += ["  (nobody has access)", ""]
            continue
        lines += _table(rows, eff.get("accounts", {}), eff.get("observed", {}) if study["system"] == "vault" else {})
        lines.append("")
    lines.append("Levels: E edit, V review, R read, - none.")
    lines.append(
        "Marks: name* external person (000); name! admin, sees every study (001); "
        "role [disabled] on record in Vault without access (003)."
    )
    return "\n".join(lines) + "\n"


def _table(rows: list[dict], accounts: Mapping[str, dict], observed: Mapping[str, dict] | None = None) -> list[str]:
    forms = list(rows[0]["forms"])
    logins = {g["user"]: ((observed or {}).get(g["user"]) or {}).get("vault_last_login") or "" for g in rows}
    login = any(logins.values())  # a Vault study whose export was state-imported: its Last Login column
    header = ["person", "role", "sites", "expires", *(["last login"] if login else []), *forms]
    body = []
    for g in rows:
        account = accounts.get(g["user"], {})
        marks = ("*" if account.get("external") else "") + ("!" if account.get("type") == "admin" else "")
        off = " [disabled]" if g.get("study_status") == "disabled" else ""  # Vault Study Status (003)
        body.append(
            [
                g["user"] + marks,
                g["role"] + ("" if g["role"] == g["base_role"] else f" ({g['base_role']})") + off,
                " ".join(g["sites"]),
                g.get("expires") or "",
                *([logins[g["user"]]] if login else []),
                *[_ABBREV[g["forms"][f]] for f in forms],
            ]
        )
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*["-" * w for w in widths])] + [fmt.format(*r) for r in body]
