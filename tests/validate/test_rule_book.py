"""docs/rules.md and docs/catalogs.md match the code."""

import re
from pathlib import Path

from edcconf.catalogs.docs import render

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "edcconf"
RULES = (REPO / "docs" / "rules.md").read_text()

_EMITTED = re.compile(r"""\b(?:error|warning|_Refused)\(\s*["']([a-z][a-z0-9-]*)["']""")
_RAISED = re.compile(r"""code=["']([a-z][a-z0-9-]*)["']""")
_CONSTANT = re.compile(
    r"""^[A-Z_]+(?:: Final)? = ["']([a-z][a-z0-9-]*)["']""", re.M
)  # e.g. MASS_REVOCATION = "mass-revocation"


def codes_in_source(pattern: re.Pattern) -> set[str]:
    return {m for path in SRC.rglob("*.py") for m in pattern.findall(path.read_text())}


def codes_in_doc() -> set[str]:
    return set(re.findall(r"`([a-z][a-z0-9-]+)`", RULES))


def test_every_rule_code_is_documented():
    missing = codes_in_source(_EMITTED) - codes_in_doc()
    assert not missing, f"codes used in the code but not in docs/rules.md: {sorted(missing)}"


def test_every_refusal_code_is_documented():
    missing = codes_in_source(_RAISED) - codes_in_doc() - {"error"}
    assert not missing, f"refusal codes not in docs/rules.md: {sorted(missing)}"


def test_every_documented_rule_is_still_in_the_code():
    rule_rows = set(re.findall(r"^\| `([a-z][a-z0-9-]+)` \|", RULES, re.M))
    used = codes_in_source(_EMITTED) | codes_in_source(_RAISED) | codes_in_source(_CONSTANT)
    stale = {c for c in rule_rows if c not in used}
    assert not stale, f"docs/rules.md lists codes the code no longer uses: {sorted(stale)}"


def test_every_rule_code_has_a_test():
    tests = "".join(p.read_text() for p in (REPO / "tests").rglob("*") if p.suffix in (".py", ".yaml"))
    untested = {c for c in codes_in_source(_EMITTED) if c not in tests}
    assert not untested, f"rule codes no test mentions: {sorted(untested)}"


def test_catalog_doc_is_generated_from_the_data():
    assert (REPO / "docs" / "catalogs.md").read_text() == render(), (
        "docs/catalogs.md is stale: python -m edcconf.catalogs.docs > docs/catalogs.md"
    )
