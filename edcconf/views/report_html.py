"""The report as pages: `<env>/index.html` (overview with inline SVG charts), one page per study in
`<env>/studies/<STUDY>.html` (the access matrix, filtered from the URL fragment), `<env>.csv` and
`<env>.json` beside them, and `<env>.html`, a small page that sends old links to the overview.

Every page is self-contained: styles, charts and script are inline, nothing is fetched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from html import escape
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape

from ..fs import write_atomically
from ..progress import progress
from . import svg

LEVEL_MARK = {"edit": "E", "review": "V", "read": "R", "none": "–"}
SOURCE_TEXT = {
    "declared": "As declared",
    "applied": "As applied (the environment's applied state)",
    "live": "Live: what the systems hold now",
}


def _templates() -> Environment:
    return Environment(loader=PackageLoader("edcconf.views", "templates"), autoescape=select_autoescape(["html", "j2"]))


def page_name(study_id: str) -> str:
    """A study's page file: its id (letters, digits, '.', '_', '-'), anything else replaced."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", study_id).lstrip(".") + ".html"


def source_text(doc: dict) -> str:
    text = SOURCE_TEXT[doc.get("source", "declared")]
    if doc.get("source") == "applied" and doc.get("state"):
        text += f", serial {doc['state']['serial']}"
    return text


def write_report_site(doc: dict, csv_chunks: Iterable[bytes], out_dir: Path) -> list[Path]:
    """Write every file of one environment's report; returns the overview, CSV, JSON and redirect paths
    (the study pages are many: their folder is `<env>/studies/`)."""
    env = doc["environment"]
    base = out_dir / env
    studies_dir = base / "studies"
    studies_dir.mkdir(parents=True, exist_ok=True)
    templates = _templates()
    href = {s["id"]: "studies/" + quote(page_name(s["id"])) for s in doc["studies"]}
    written = set()
    study_page = templates.get_template("report_study.html.j2")
    with progress(doc["studies"], f"write the study pages of {env}") as each:
        for study in each:
            name = page_name(study["id"])
            write_atomically(studies_dir / name, render_study(study_page, doc, study).encode(), durable=False)
            written.add(name)
    for stale in studies_dir.glob("*.html"):  # a study no longer reported must not keep a page
        if stale.name not in written:
            stale.unlink()
    index = base / "index.html"
    write_atomically(index, render_overview(templates, doc, href).encode(), durable=False)
    paths = [index, out_dir / f"{env}.csv", out_dir / f"{env}.json", out_dir / f"{env}.html"]
    write_atomically(paths[1], csv_chunks, durable=False)
    write_atomically(paths[2], _json_chunks(doc), durable=False)
    write_atomically(paths[3], _redirect(f"{quote(env)}/index.html").encode(), durable=False)
    return paths


def render_overview(templates: Environment, doc: dict, href: dict[str, str]) -> str:
    ov = doc["overview"]
    hm = ov["heatmap"]
    charts = {
        "heatmap": svg.heatmap(hm["people"], hm["studies"], hm["cells"], href),
        "sites": svg.bars(ov["sites"]["bars"], "grants per site"),
        "roles": svg.bars(ov["roles"]["bars"], "grants per role"),
        "expiries": svg.timeline(ov["expiries"]["per_day"], ov["expiries"]["from"], ov["expiries"]["days"]),
    }
    if ov["non_compliant"]["available"]:
        charts["non_compliant"] = svg.bars(
            ov["non_compliant"]["per_study"]["bars"], "non-compliant rights per study", href
        )
    if ov["pending"]["available"]:
        charts["pending"] = svg.stacked_bars(
            ov["pending"]["studies"], ("add", "change", "revoke"), "pending changes per study", href
        )
    return templates.get_template("report_overview.html.j2").render(
        doc=doc,
        ov=ov,
        charts=charts,
        href=href,
        source_text=source_text(doc),
        level_names=svg.LEVEL_NAMES,
        level_colours=svg.LEVEL_COLOURS,
        colours=svg.COLOURS,
    )


def render_study(template, doc: dict, study: dict) -> str:
    sites = sorted({s for r in study["rows"] for s in r["sites"]} | set(study["sites"]))
    roles = sorted({r["role"] for r in study["rows"]})
    return template.render(
        env=doc["environment"],
        as_of=doc["as_of"],
        source_text=source_text(doc),
        study=study,
        sites=sites,
        roles=roles,
        rows=study_rows(study),
    )


def study_rows(study: dict) -> str:
    """The matrix's rows, built here rather than in the template: a study of 100 people and 50 forms is
    5,000 cells, and 2,000 such pages must render in seconds."""
    out = []
    e = escape
    cells_of = {f: f'title="{e(f)}: ' for f in study["forms"]}
    for row in study["rows"]:
        badges = (
            f'<span class="badge external" title="external: {e(row["external"])}">external</span>'
            if row["external"]
            else ""
        ) + ('<span class="badge admin">admin</span>' if row["admin"] else "")
        if row["status"] != "active":
            badges += f'<span class="badge gone" title="{e(row["note"] or "")}">{e(row["status"])}</span>'
        role = e(row["role"]) + (
            f' <span class="count">({e(row["base_role"])})</span>'
            if row["base_role"] and row["role"] != row["base_role"]
            else ""
        )
        cells = "".join(
            f'<td class="level l-{lvl}" {cells_of[f]}{lvl}">{LEVEL_MARK[lvl]}</td>'
            for f, lvl in ((f, row["forms"][f]) for f in study["forms"])
        )
        out.append(
            f'<tr class="grant {e(row["status"])}" data-user="{e(row["user"])}" '
            f'data-name="{e(row["name"].lower())}" data-role="{e(row["role"])}" '
            f'data-sites="{e(" ".join(row["sites"]))}" data-status="{e(row["status"])}">'
            f"<td>{e(row['user'])}{badges}</td><td>{role}</td><td>{e(', '.join(row['sites']))}</td>"
            f"<td>{e(row['expires'] or '')}</td>{cells}</tr>"
        )
    return "\n".join(out)


def _json_chunks(doc: dict) -> Iterator[bytes]:
    """The document as JSON, one study to a line: json's C encoder per study (an indented or streamed
    encoding is pure Python, minutes at 200,000 grants) and never the whole document as one string."""
    head = {k: v for k, v in doc.items() if k != "studies"}
    yield (json.dumps(head)[:-1] + ', "studies": [\n').encode("utf-8")
    last = len(doc["studies"]) - 1
    for n, study in enumerate(doc["studies"]):
        yield (json.dumps(study) + (",\n" if n < last else "\n")).encode("utf-8")
    yield b"]}\n"


def _redirect(target: str) -> str:
    t = escape(target)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0; url={t}">'
        f'<title>Moved</title></head><body><p>The report is now <a href="{t}">{t}</a>.</p></body></html>\n'
    )
