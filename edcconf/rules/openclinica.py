"""OpenClinica 4 participant ID templates (source document 001, "Adding and Editing Participant IDs").

What 001 says a system-generated participant ID template may hold, and what edcconf checks:

- the placeholders `${siteId}` (the site's id), `${siteParticipantCount}` (the number of participants
  already at the site, usually written `${(siteParticipantCount+1)}`) and `${helper.random(n)}` (a random
  number of up to n digits), each number optionally padded with leading zeros by `?string[000]`;
  anything else between `${` and `}` is unknown to OpenClinica (`participant-id-placeholder`);
- static text around them, without `/ \\ < > & " '`; the template is at most 255 characters;
- every template uses `siteParticipantCount` or `helper.random` (otherwise every ID is the same), and
  001 also requires `${siteId}` together with `${siteParticipantCount}`: the count starts again at each
  site, so without the site's id two sites would hand out the same IDs. 001's own random-number example
  (`P-${(helper.random(5))?string[00000]}`) has no `${siteId}`, so the random method does not need it
  (`participant-id-template`);
- the resulting ID is at most 30 characters (`participant-id-too-long`). Its longest form is computed from
  the template: static text as written, `${siteId}` as the longest site id of the study, a count as the
  width of its format but at least the digits of its largest value (a site has at most `MAX_COUNT`
  participants, so the count is at most 9,998 when one is added: `siteParticipantCount+1` has 4 digits;
  a number longer than its format is printed in full), `helper.random(n)` as n digits or the width of its format.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..diagnostics import Diagnostic, Loc, error
from .book import rule

FAMILY = "openclinica"

PARTICIPANT_ID_TEMPLATE = rule(
    "participant-id-template",
    family=FAMILY,
    source="001",
    kind="error",
    summary="a participant ID template uses `${siteParticipantCount}` or `${helper.random(n)}`",
    text=(
        "a participant ID template uses `${siteParticipantCount}` or `${helper.random(n)}` (otherwise "
        "every ID is the same); a template that uses `${siteParticipantCount}` also uses `${siteId}` (001 "
        "requires both, in any order: the count starts again at each site, so without the site id two "
        "sites hand out the same IDs; 001's own random-number example has no site id, so the random "
        "method does not need it); at most 255 characters; none of `/ \\ < > & \" '` outside `${...}`. "
        "Checked once every placeholder is known ([participant IDs](#participant-id-templates))"
    ),
    example=(
        "participant_id_template uses ${siteParticipantCount} without ${siteId}; the count starts again "
        "at each site, so two sites would give the same IDs: 001 requires both, in any order (or use "
        "${helper.random(n)})"
    ),
)

PARTICIPANT_ID_PLACEHOLDER = rule(
    "participant-id-placeholder",
    family=FAMILY,
    source="001",
    kind="error",
    summary="every `${...}` of a participant ID template is one OpenClinica knows",
    text=(
        "every `${...}` of a participant ID template is one OpenClinica knows: `${siteId}`, "
        "`${siteParticipantCount}` (optionally `(siteParticipantCount+k)`) or `${helper.random(n)}` with "
        "n ≥ 1, a number optionally padded by `?string[000]`; anything else (`${siteID}`, `${siteOID}`, "
        "an unclosed `${`) is refused with a suggestion"
    ),
    example=(
        "participant_id_template uses ${siteID}, which OpenClinica does not know (did you mean "
        "${siteId}?); OpenClinica knows ${siteId}, ${(siteParticipantCount+1)?string[000]} and "
        "${(helper.random(5))?string[00000]} (001)"
    ),
)

PARTICIPANT_ID_TOO_LONG = rule(
    "participant-id-too-long",
    family=FAMILY,
    source="001",
    kind="error",
    summary=("the longest participant ID a template can give has at most 30 characters, computed from the template"),
    text=(
        "the longest participant ID a template can give has at most 30 characters, computed from the "
        "template ([participant IDs](#participant-id-templates))"
    ),
    example=(
        "participant_id_template gives IDs of up to 31 characters (15 of text, 8 for ${siteId} (site id "
        "CHU-LYON), 4 for ${siteParticipantCount}, ...); OpenClinica allows at most 30 (001): shorten the "
        "text, the number format or the site ids"
    ),
)


MAX_TEMPLATE = 255  # 001: the template cannot exceed 255 characters
MAX_PARTICIPANT_ID = 30  # 001: the resulting Participant ID cannot exceed 30 characters
COUNT_DIGITS = 4  # a site is taken to have at most 9,999 participants
MAX_COUNT = 10**COUNT_DIGITS - 1
FORBIDDEN = set("/\\<>&\"'")  # 001: not allowed in a template's static text
KNOWN = ("siteId", "siteParticipantCount", "helper.random")
EXAMPLES = "${siteId}, ${(siteParticipantCount+1)?string[000]} and ${(helper.random(5))?string[00000]}"

_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")
_FORMAT = re.compile(r"""\?string\[(["']?)(0+)\1\]$""")
_BODY = re.compile(
    r"(?P<name>siteId|siteParticipantCount|helper\.random)"
    r"(?:\((?P<digits>\d+)\))?(?:\+(?P<offset>\d+))?$"
)


@dataclass(frozen=True)
class Part:
    """One `${...}` of a template: what it is and how many characters it can give at most."""

    text: str  # as written, with ${ }
    name: str  # siteId | siteParticipantCount | helper.random
    width: int  # longest value, in characters


@dataclass(frozen=True)
class Parsed:
    static: str  # the text outside ${...}
    parts: tuple[Part, ...]
    unknown: tuple[str, ...]  # each ${...} (or unclosed ${) OpenClinica does not know, as written

    def names(self) -> set[str]:
        return {p.name for p in self.parts}


def parse(template: str, longest_site_id: int = 0) -> Parsed:
    """Split a template into static text and placeholders, each with its longest value."""
    parts: list[Part] = []
    unknown: list[str] = []
    static: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        static.append(template[pos : m.start()])
        pos = m.end()
        part = _part(m.group(0), m.group(1), longest_site_id)
        if part is None:
            unknown.append(m.group(0))
        else:
            parts.append(part)
    rest = template[pos:]
    if "${" in rest:  # an unclosed placeholder: OpenClinica cannot read the template
        unknown.append(rest[rest.index("${") :])
        rest = rest[: rest.index("${")]
    static.append(rest)
    return Parsed("".join(static), tuple(parts), tuple(unknown))


def _part(text: str, inner: str, longest_site_id: int) -> Part | None:
    expr = re.sub(r"\s+", "", inner)
    width = 0
    fmt = _FORMAT.search(expr)
    if fmt:
        width = len(fmt.group(2))
        expr = expr[: fmt.start()]
    if expr.startswith("(") and expr.endswith(")"):
        expr = expr[1:-1]
    elif fmt and "+" in expr:
        return None  # `count+1?string[000]` would pad the 1: 001 writes `(siteParticipantCount+1)?string[000]`
    if expr.startswith("(") and expr.endswith(")"):  # `((helper.random(5)))`
        expr = expr[1:-1]
    m = _BODY.match(expr)
    if m is None:
        return None
    name, digits, offset = m.group("name"), m.group("digits"), m.group("offset")
    if name == "siteId":
        if digits or offset or fmt:
            return None
        return Part(text, name, longest_site_id)
    if name == "siteParticipantCount":
        if digits:
            return None
        return Part(text, name, max(width, len(str(MAX_COUNT - 1 + int(offset or 0)))))
    if digits is None or int(digits) < 1 or offset:  # helper.random(n), n ≥ 1
        return None
    return Part(text, name, max(width, int(digits)))


def longest_id(template: str, longest_site_id: int) -> int:
    """The number of characters of the longest ID the template can give (unknown placeholders count 0)."""
    parsed = parse(template, longest_site_id)
    return len(parsed.static) + sum(p.width for p in parsed.parts)


def check_participant_id_template(template: str, site_ids: tuple[str, ...], loc: Loc) -> list[Diagnostic]:
    """001's rules for one study's participant ID template."""
    longest_site = max(site_ids, key=len, default="")
    parsed = parse(template, len(longest_site))
    out: list[Diagnostic] = []
    if len(template) > MAX_TEMPLATE:
        out.append(_template(f"has {len(template)} characters; at most {MAX_TEMPLATE} are allowed", loc))
    for text in parsed.unknown:
        out.append(
            error(
                PARTICIPANT_ID_PLACEHOLDER.code,
                f"participant_id_template uses {text}, {_hint(text)}; OpenClinica knows {EXAMPLES} (001)",
                loc,
            )
        )
    names = parsed.names()
    if parsed.unknown:
        pass  # which parts are required is judged once every placeholder is one OpenClinica knows
    elif not names & {"siteParticipantCount", "helper.random"}:
        out.append(
            _template("must use ${siteParticipantCount} or ${helper.random(n)} so that every ID is different", loc)
        )
    elif "siteParticipantCount" in names and "siteId" not in names:
        out.append(
            _template(
                "uses ${siteParticipantCount} without ${siteId}; the count starts again at each site, "
                "so two sites would give the same IDs: 001 requires both, in any order "
                "(or use ${helper.random(n)})",
                loc,
            )
        )
    bad = sorted(set(parsed.static) & FORBIDDEN)
    if bad:
        out.append(_template(f"contains {' '.join(bad)} outside ${{...}}; none of / \\ < > & \" ' is allowed", loc))
    length = len(parsed.static) + sum(p.width for p in parsed.parts)
    if length > MAX_PARTICIPANT_ID:
        pieces = [f"{len(parsed.static)} of text"] if parsed.static else []
        for p in parsed.parts:
            what = f"site id {longest_site}" if p.name == "siteId" else "digits"
            pieces.append(f"{p.width} for {p.text}" + (f" ({what})" if p.name == "siteId" and longest_site else ""))
        out.append(
            error(
                PARTICIPANT_ID_TOO_LONG.code,
                f"participant_id_template gives IDs of up to {length} characters "
                f"({', '.join(pieces)}); OpenClinica allows at most {MAX_PARTICIPANT_ID} (001): shorten the "
                "text, the number format or the site ids",
                loc,
            )
        )
    return out


def _template(problem: str, loc: Loc) -> Diagnostic:
    return error(PARTICIPANT_ID_TEMPLATE.code, f"participant_id_template {problem}", loc)


def _hint(text: str) -> str:
    """Why a placeholder is not one OpenClinica knows, and what to write instead."""
    if not text.endswith("}"):
        return "which is not closed (add })"
    word = re.search(r"[A-Za-z_][A-Za-z0-9_.]*", text[2:])
    name = word.group(0) if word else ""
    if name in KNOWN:
        return f"which OpenClinica does not know in that form (write it as {_FORM[name]})"
    if name.lower() in ("siteoid", "siteid"):  # OpenClinica's own fallback uses siteOID; 001 offers siteId
        return "which OpenClinica does not know (did you mean ${siteId}?)"
    close = difflib.get_close_matches(name, KNOWN, n=1, cutoff=0.6) if name else []
    return "which OpenClinica does not know" + (f" (did you mean {_FORM[close[0]]}?)" if close else "")


_FORM = {
    "siteId": "${siteId}",
    "siteParticipantCount": "${(siteParticipantCount+1)?string[000]}",
    "helper.random": "${(helper.random(5))?string[00000]}",
}
