"""`drift` as text: the differences between the live systems and the applied state, in a table."""

from __future__ import annotations

from ..questions.drift import DriftReport, studies_text, value_text


def render_drift(report: DriftReport) -> str:
    """The differences, or "No drift" only for what was read: unread studies are named in the same
    sentence, and with nothing read the report says so instead."""
    lines = []
    read, unread = len(report.checked), len(report.unread)
    not_read = f"{studies_text(unread)} NOT read: {', '.join(s for s, _ in report.unread)}" if unread else ""
    if report.differences:
        lines.append(
            f"Drift in {report.environment} (state serial {report.serial}): "
            f"{len(report.differences)} difference(s) between the live systems and the applied state"
            + (f" in the {studies_text(read)} read live; {not_read}." if unread else ".")
        )
        rows = [("study", "user", "right", "expected", "live")] + [
            (d.study, d.user, d.right, value_text(d.expected), value_text(d.live)) for d in report.differences
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.append("Run `edcconf plan` to see the changes that restore the declared access, then apply them.")
    elif read and unread:
        lines.append(
            f"No drift in the {studies_text(read)} read live in {report.environment} (applied state serial "
            f"{report.serial}); {not_read} (drift unknown)."
        )
    elif read:
        lines.append(
            f"No drift in {report.environment}: {studies_text(read)} read live match the "
            f"applied state (serial {report.serial})."
        )
    elif unread:
        lines.append(f"Nothing in {report.environment} was read live; {not_read} (drift unknown).")
    elif report.unchecked:
        lines.append(
            f"Nothing in {report.environment} could be checked live: no study's target reads live "
            "access (a csv target writes files for an administrator to upload)."
        )
    else:
        lines.append(
            f"Nothing in {report.environment} to check live: its applied state (serial {report.serial}) "
            "holds no studies."
        )
    for what, why in report.unread:
        lines.append(f"  NOT read: {what}: {why}")
    for what, why in report.not_checked:
        lines.append(f"  not checked: {what}: {why}")
    return "\n".join(lines) + "\n"
