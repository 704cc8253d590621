"""docs/rules.md, rendered from the registry (book.py) and the text around the tables (book_text.py).

A section lists the rules of its families, in registration order; every refusal, whatever its family, is
in the last table (code and when). Rules of one section with the same kind, text, source and example share
a row (Vault's user-import checks, a refusal with two codes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import book_text as text
from .book import FAMILIES, Rule, all_rules


@dataclass(frozen=True)
class Section:
    title: str
    intro: str = ""
    families: tuple[str, ...] = ()
    refusals: bool = False  # the run-time refusals of every family, as a table of code and when
    after: str = ""


SECTIONS: tuple[Section, ...] = (
    Section("Reading the files", families=("files",)),
    Section("References and identity", families=("references", "identity")),
    Section(
        "Institutional policy",
        families=(
            "ceilings",
            "external",
            "admins",
            "site_roles",
            "policy",
            "openclinica",
            "openclinica_security",
        ),
    ),
    Section("System rules", families=("systems", "vault_status")),
    Section(
        "Separation of duties",
        intro="Violations of `access_policies:` (docs/policies.md).",
        families=("access_policies",),
    ),
    Section("Qualifications", intro=text.QUALIFICATIONS, families=("qualifications",)),
    Section("OpenClinica account security", after=text.OPENCLINICA_SECURITY),
    Section("Participant ID templates", after=text.PARTICIPANT_IDS),
    Section("Ceilings at assignment", after=text.CEILINGS_AT_ASSIGNMENT),
    Section("Implicit access and derived abilities", after=text.IMPLICIT_ACCESS),
    Section("Compliance reports", after=text.COMPLIANCE_REPORTS),
    Section("Live reads", intro=text.LIVE_READS, families=("live",)),
    Section("Importing the systems' files", intro=text.IMPORTS, families=("imports", "interchange")),
    Section("Compliance alerts", intro=text.ALERTS, families=("alerts",)),
    Section("Access reviews", intro="Access review campaigns (docs/reviews.md).", families=("reviews",)),
    Section("Time", after=text.TIME),
    Section("Refusals at run time", intro=text.REFUSALS, refusals=True),
)


def _rows(rules: Sequence[Rule]) -> list[list[Rule]]:
    """Consecutive rules that say the same thing, one row each group."""
    rows: list[list[Rule]] = []
    for r in rules:
        last = rows[-1][0] if rows else None
        if last is not None and (last.kind, last.text, last.source, last.example) == (
            r.kind,
            r.text,
            r.source,
            r.example,
        ):
            rows[-1].append(r)
        else:
            rows.append([r])
    return rows


def _codes(row: Sequence[Rule]) -> str:
    codes = ", ".join(f"`{r.code}`" for r in row)
    return codes + (" (warning)" if row[0].kind == "warning" else "")


def table(rules: Sequence[Rule], *, refusals: bool = False) -> str:
    if refusals:
        lines = ["| code | when |", "|---|---|"]
        lines += [f"| {_codes(row)} | {row[0].text} |" for row in _rows(rules)]
    else:
        lines = ["| code | checks | source | example message |", "|---|---|---|---|"]
        for row in _rows(rules):
            r = row[0]
            example = f"`{r.example}`" if r.example else ""
            lines.append(f"| {_codes(row)} | {r.text} | {r.source} | {example} |")
    return "\n".join(lines)


def render() -> str:
    # by family, in FAMILIES order: the registry's own order depends on what was imported first
    rules = sorted(all_rules().values(), key=lambda r: FAMILIES.index(r.family))
    listed = {f for s in SECTIONS for f in s.families}
    unplaced = {r.family for r in rules if r.kind != "refusal"} - listed
    assert not unplaced, f"families without a section in docs/rules.md: {sorted(unplaced)}"
    out = [text.INTRO]
    for section in SECTIONS:
        parts = [f"## {section.title}"]
        if section.intro:
            parts.append(section.intro)
        if section.refusals:
            chosen = [r for r in rules if r.kind == "refusal"]
        else:
            chosen = [r for f in section.families for r in rules if r.family == f and r.kind != "refusal"]
        if chosen:
            parts.append(table(chosen, refusals=section.refusals))
        if section.after:
            parts.append(section.after)
        out.append("\n\n".join(parts))
    return "\n\n".join(out) + "\n"
