"""The rule book: every code edcconf reports, registered once by the family module that owns it.

A family module (`edcconf/rules/<family>.py`) declares each of its rules with `rule(...)`: the stable code,
the source document (000-004 for the systems' public documentation, `edcconf` for the tool's own
refusals), the kind (error, warning, refusal), a one-line summary, the longer text and an example
message. Whatever emits the code uses the returned `Rule` (`error(SITE_ROLE_OVERLAP.code, ...)`), so a
code exists once. `python -m edcconf.rules.book` prints docs/rules.md from the registry (a test compares).
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from typing import Literal

Kind = Literal["error", "warning", "refusal"]

_CODE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

# Every family module, in the order of docs/rules.md. A module missing here has its rules left out of
# the book: the rule-book test fails on the codes it emits.
FAMILIES: tuple[str, ...] = (
    "files",
    "references",
    "identity",
    "ceilings",
    "external",
    "admins",
    "site_roles",
    "policy",
    "openclinica",
    "openclinica_security",
    "systems",
    "vault_status",
    "access_policies",
    "reviews",
    "qualifications",
    "live",
    "imports",
    "interchange",
    "alerts",
    "plan",
    "state",
    "commands",
)


@dataclass(frozen=True)
class Rule:
    """One rule: what a diagnostic or refusal with this code means."""

    code: str
    family: str
    source: str
    kind: Kind
    summary: str
    text: str
    example: str = ""


class DuplicateRule(ValueError):
    """A code registered by two rules: each code has one home."""


_REGISTRY: dict[str, Rule] = {}


def rule(code: str, *, family: str, source: str, kind: Kind, summary: str, text: str = "", example: str = "") -> Rule:
    """Register a rule once; a second, different registration of the same code fails at import."""
    if not _CODE.fullmatch(code):
        raise ValueError(f"rule code {code!r} is not lower-case words joined by '-'")
    if family not in FAMILIES:
        raise ValueError(f"rule {code} names family {family!r}, which is not in book.FAMILIES")
    new = Rule(code, family, source, kind, summary, text or summary, example)
    old = _REGISTRY.get(code)
    if old is not None and old != new:  # an equal one is the same module imported again (a reload)
        raise DuplicateRule(f"rule code {code!r} is registered twice: in family {old.family} and in {family}")
    _REGISTRY[code] = new
    return new


def all_rules() -> dict[str, Rule]:
    """Every registered rule by code, each family module imported (in FAMILIES order)."""
    for name in FAMILIES:
        importlib.import_module(f"{__package__}.{name}")
    return dict(_REGISTRY)


def main() -> None:
    from .doc import render

    sys.stdout.write(render())


if __name__ == "__main__":
    # Run as a script this file is __main__: use the package's module so that one registry is filled.
    from edcconf.rules.book import main as _main

    _main()
