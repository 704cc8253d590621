"""Access review campaigns as text (docs/reviews.md): the files `review start` writes (campaign.yaml, one
review file per study, the packets in markdown and HTML from Jinja2 templates) and `review status`
(text, JSON, CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .. import __version__
from ..questions.reviews import Packet

STATUS_COLUMNS = (
    "campaign",
    "environment",
    "study",
    "pi",
    "under_review",
    "confirmed",
    "revoked",
    "pending",
    "due",
    "overdue",
)


def _q(text: object) -> str:
    """A YAML scalar that is read back as exactly this string (a JSON string is a YAML one)."""
    return json.dumps(str(text), ensure_ascii=False)


def _comment(text: str) -> str:
    return " ".join(text.split())


def campaign_yaml(fields: Mapping[str, Any]) -> str:
    lines = [
        "# yaml-language-server: $schema=../../schemas/document.schema.json",
        f"# Access review campaign {fields['id']} of {fields['environment']} (edcconf review start; docs/reviews.md).",
        "# Each study's PI confirms or revokes its grants in the study's file beside this one.",
        "review_campaign:",
    ]
    for key in ("id", "environment", "started", "due"):
        lines.append(f"  {key}: {_q(fields[key])}")
    lines.append(f"  warn_days: {int(fields['warn_days'])}")
    lines.append(f"  after_due: {fields['after_due']}")
    serial = fields.get("state_serial")
    lines.append(f"  state_serial: {'null' if serial is None else int(serial)}")
    return "\n".join(lines) + "\n"


def study_review_yaml(p: Packet, packet_path: str) -> str:
    lines = [
        "# yaml-language-server: $schema=../../schemas/document.schema.json",
        f"# Access review {p.campaign} of {p.study} in {p.environment}, due {p.due} (docs/reviews.md).",
        f"# PI {p.pi or '(none declared)'}: in a pull request, list each username (or grant key) under confirmed:",
        "# or revoke:. Who decided and when is read from git. The packet: " + packet_path,
        "access_review:",
        f"  campaign: {_q(p.campaign)}",
        f"  study: {_q(p.study)}",
        f"  pi: {'null' if p.pi is None else _q(p.pi)}",
        "  grants:",
    ]
    for r in p.rows:
        sites = ", ".join(r.sites) or "no site"
        lines.append(f"    - {_q(r.key)}  # {_comment(r.name)}, {r.role} ({r.base_role}), {_comment(sites)}")
    lines += ["  confirmed: []", "  revoke: []"]
    return "\n".join(lines) + "\n"


def _md(text: object) -> str:
    """Text safe inside a markdown table cell."""
    return (
        str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("\n", " ")
    )


def _environment(autoescape: bool):
    from jinja2 import Environment, PackageLoader, StrictUndefined  # local: jinja2 is slow to import

    env = Environment(
        loader=PackageLoader("edcconf.views", "templates"),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = _md
    return env


def packet_markdown(p: Packet, review_file: str) -> str:
    return _environment(False).get_template("review_packet.md.j2").render(p=p, file=review_file, version=__version__)


def packet_html(p: Packet, review_file: str) -> str:
    return _environment(True).get_template("review_packet.html.j2").render(p=p, file=review_file, version=__version__)


def status_json(rows: Sequence[Mapping[str, Any]], as_of: str) -> dict[str, Any]:
    return {
        "format_version": 1,
        "as_of": as_of,
        "campaigns": _campaigns(rows),
        "pis": _pis(rows),
        "studies": list(rows),
    }


def _pis(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per campaign and PI: their studies, and how many grants are still pending."""
    out: dict[tuple[str, str | None], dict[str, Any]] = {}
    for r in rows:
        p = out.setdefault(
            (r["campaign"], r["pi"]),
            {"campaign": r["campaign"], "pi": r["pi"], "studies": [], "pending": 0, "overdue": False},
        )
        p["studies"].append(r["study"])
        p["pending"] += r["pending"]
        p["overdue"] = p["overdue"] or r["overdue"]
    return list(out.values())


def _campaigns(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = out.setdefault(
            r["campaign"],
            {
                "campaign": r["campaign"],
                "environment": r["environment"],
                "due": r["due"],
                "studies": 0,
                "complete": 0,
                "under_review": 0,
                "confirmed": 0,
                "revoked": 0,
                "pending": 0,
                "overdue": False,
            },
        )
        c["studies"] += 1
        c["complete"] += int(r["complete"])
        for k in ("under_review", "confirmed", "revoked", "pending"):
            c[k] += r[k]
        c["overdue"] = c["overdue"] or r["overdue"]
    return list(out.values())


def status_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(STATUS_COLUMNS)
    for r in rows:
        writer.writerow(
            [str(r[c]).lower() if isinstance(r[c], bool) else ("" if r[c] is None else r[c]) for c in STATUS_COLUMNS]
        )
    return buf.getvalue()


def status_text(rows: Sequence[Mapping[str, Any]], as_of: str) -> str:
    if not rows:
        return "No access review campaigns.\n"
    out = []
    for c in _campaigns(rows):
        done = c["confirmed"] + c["revoked"]
        state = "OVERDUE" if c["overdue"] else ("complete" if c["pending"] == 0 else "open")
        out.append(
            f"Access review {c['campaign']} ({c['environment']}), due {c['due']}: {done} of {c['under_review']} "
            f"grants reviewed, {c['complete']} of {c['studies']} studies complete — {state} (as of {as_of})"
        )
        out.append(f"  {'study':<14} {'PI':<16} {'review':>6} {'conf':>5} {'revoke':>6} {'pending':>7}  status")
        for r in rows:
            if r["campaign"] != c["campaign"]:
                continue
            status = "overdue" if r["overdue"] else ("complete" if r["complete"] else "pending")
            out.append(
                f"  {r['study']:<14} {r['pi'] or '-':<16} {r['under_review']:>6} {r['confirmed']:>5} "
                f"{r['revoked']:>6} {r['pending']:>7}  {status}"
            )
    return "\n".join(out) + "\n"
