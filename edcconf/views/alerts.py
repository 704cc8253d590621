"""Text of `compliance alert` (what was sent or written, what was held back, what to change to expire
someone) and of `compliance alerts` (the alert log)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

_KIND_LABEL = {
    "user_alert": "alert to the user",
    "user_reminder": "reminder to the user",
    "rights_holders_alert": "alert to a User Rights holder",
    "rights_holders_reminder": "reminder to a User Rights holder",
    "user_expiration": "notice of expiry to the user",
    "rights_holders_expiration": "notice of expiry to a User Rights holder",
    "user_qualification_expiration": "qualification reminder to the user",
    "pi_qualification_expiration": "qualification reminder to the PI",
}


def alert_run_json(run, entries: list[dict], delivery: str, dry_run: bool) -> dict:
    return {
        "format_version": 1,
        "environment": run.environment,
        "as_of": run.as_of.isoformat(),
        "reminder_interval_days": run.interval_days,
        "delivery": delivery,
        "dry_run": dry_run,
        "alerts": entries,
        "skipped": run.skipped,
        "expire": run.expire,
        "warnings": run.warnings,
    }


def render_alert_run(doc: Mapping) -> str:
    lines = [
        f"Compliance alerts for {doc['environment']} as of {doc['as_of']}"
        f"{' (dry run: nothing sent, written or logged)' if doc['dry_run'] else ''}"
    ]
    if not doc["alerts"] and not doc["skipped"]:
        lines.append("  nobody with non-compliant rights to alert.")
    for e in doc["alerts"]:
        where = (
            ""
            if doc["dry_run"]
            else " sent"
            if e["delivered"] and e["delivery"] == "smtp"
            else f" written to {e['file']}"
            if e.get("file")
            else " NOT sent"
        )
        to = f"{e['to']} <{e['email']}>" if e.get("email") else e["to"]
        lines.append(
            f"  #{e['id']} {e['study']}: {_KIND_LABEL.get(e['kind'], e['kind'])} {to} "
            f"about {', '.join(e['about'])}:{where}"
        )
        if e.get("error"):
            lines.append(f"      {e['error']}")
    for s in doc["skipped"]:
        lines.append(
            f"  held back: {s['user']} in {s['study']} was told on {s['last']}; next reminder from "
            f"{s['next']} (every {doc['reminder_interval_days']} days)"
        )
    if doc["expire"]:
        lines += [
            "",
            "To make their access expire, change these declarations and let the change be planned, "
            "reviewed and applied (edcconf plan / apply):",
        ]
        for x in doc["expire"]:
            if x["edit"]:
                now = f" (it expires on {x['current']} now)" if x["current"] else ""
                lines.append(
                    f"  {x['source']}: {x['user']} ({x['role']} in {x['study']}): add `{x['edit']}` to this grant{now}"
                )
            else:
                lines.append(
                    f"  {x['source']}: {x['user']} ({x['role']} in {x['study']}) already expires on {x['current']}"
                )
    for w in doc["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines) + "\n"


def render_alert_log(environment: str, entries: Iterable[Mapping]) -> str:
    entries = list(entries)
    if not entries:
        return f"No alerts recorded for {environment}.\n"
    header = ["#", "date", "kind", "study", "to", "about", "delivery"]
    rows = []
    for e in entries:
        status = (
            "sent"
            if e.get("delivered") and e.get("delivery") == "smtp"
            else f"file {e['file']}"
            if e.get("file") and e.get("delivered")
            else f"NOT sent ({e.get('error')})"
            if e.get("error")
            else "not sent"
        )
        rows.append(
            [
                str(e.get("id", "")),
                str(e.get("date", "")),
                str(e.get("kind", "")),
                str(e.get("study", "")),
                str(e.get("to", "")),
                ", ".join(e.get("about") or ()),
                status,
            ]
        )
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    fmt = lambda row: "  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip()  # noqa: E731
    return (
        "\n".join(
            [f"Alert log of {environment}: {len(entries)} alert{'s' if len(entries) != 1 else ''}", fmt(header)]
            + [fmt(r) for r in rows]
        )
        + "\n"
    )
