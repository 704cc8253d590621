"""Every rule code has one home (a `rule(...)` in an edcconf/rules/ family module), every code the package
emits is registered there, and docs/rules.md and docs/catalogs.md are generated from the code."""

import importlib
import re
from pathlib import Path

import pytest

from edcconf.catalogs.docs import render
from edcconf.rules import book
from edcconf.rules.doc import render as render_rules
from edcconf.rules.interchange import VAULT

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "edcconf"
SOURCES = {path: path.read_text() for path in SRC.rglob("*.py")}
RULES = book.all_rules()

# A code written as a string where a diagnostic or refusal is made: each should use its Rule instead.
_EMITTED = re.compile(r"""\b(?:error|warning|_Refused)\(\s*["']([a-z][a-z0-9-]*)["']""")
_RAISED = re.compile(r"""\bcode=["']([a-z][a-z0-9-]*)["']""")
_CONSTANT = re.compile(
    r"""^\s*[A-Z_]+(?:: Final)? = ["']([a-z][a-z0-9-]*)["']""", re.M
)  # MASS_REVOCATION = "mass-revocation"
# A Rule used: `FAMILY_rules.NAME.code` from anywhere, `NAME.code` inside its family module.
_USED = re.compile(r"""\b(?:([a-z_]+)_rules\.)?([A-Z][A-Z0-9_]*)\.code\b""")
# Vault's checks are reached by the name Vault gives them (interchange.vault._vault).
_VAULT_NAME = re.compile(r"""\b_vault\(\s*diags,\s*["']([^"']+)["']""")
_REGISTERED = re.compile(r"""\b(?:rule|_vault)\(\s*["']([a-z][a-z0-9-]*)["']""")


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def literal_codes() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path, text in SOURCES.items():
        for pattern in (_EMITTED, _RAISED):
            for code in pattern.findall(text):
                if code != "error":  # UserError's default, a refusal without a code of its own
                    found.setdefault(code, set()).add(str(path.relative_to(REPO)))
        for code in _CONSTANT.findall(text):
            if code in RULES:  # other constants hold words that are no codes ("all", "no-rights")
                found.setdefault(code, set()).add(str(path.relative_to(REPO)))
    return found


def used_codes() -> dict[str, set[str]]:
    """Code -> the files that use its Rule (emit it, raise it, or compare with it)."""
    used: dict[str, set[str]] = {}
    for path, text in SOURCES.items():
        where = str(path.relative_to(REPO))
        if path.parent.name == "rules" and path.stem in ("book", "doc"):
            continue  # the registry itself
        for family, name in _USED.findall(text):
            if family:
                owner = importlib.import_module(f"edcconf.rules.{family}")
            elif path.parent.name == "rules":
                owner = importlib.import_module(module_name(path))
            else:
                continue  # a local constant holding a code (USER_EXISTS = ...code): counted where it is made
            value = getattr(owner, name, None)
            assert isinstance(value, book.Rule), f"{where}: {family or owner.__name__}.{name} is not a Rule"
            used.setdefault(value.code, set()).add(where)
        for name in _VAULT_NAME.findall(text):
            assert name in VAULT, f"{where}: Vault has no check named {name!r} in rules.interchange.VAULT"
            used.setdefault(VAULT[name].code, set()).add(where)
    return used


def codes_in_doc() -> set[str]:
    rows = re.findall(r"^\| (`[^|]*) \|", (REPO / "docs" / "rules.md").read_text(), re.M)
    return {code for row in rows for code in re.findall(r"`([a-z][a-z0-9-]+)`", row)}


def test_each_documented_code_is_registered_once():
    registrations = [c for text in SOURCES.values() for c in _REGISTERED.findall(text)]
    twice = sorted({c for c in registrations if registrations.count(c) > 1})
    assert not twice, f"codes registered by more than one rule(...): {twice}"
    assert set(registrations) == set(RULES), "a rule(...) the test cannot see, or one outside the book"
    assert codes_in_doc() == set(RULES), (
        f"docs/rules.md and the registry differ: only in the doc {sorted(codes_in_doc() - set(RULES))}, "
        f"only registered {sorted(set(RULES) - codes_in_doc())}"
    )


def test_a_second_registration_of_a_code_fails():
    first = RULES["site-role-overlap"]
    with pytest.raises(book.DuplicateRule, match="site-role-overlap"):
        book.rule(first.code, family="policy", source="001", kind="error", summary="another home")
    assert book.all_rules()["site-role-overlap"] is first


def test_every_rule_belongs_to_a_family_module_that_registers_it():
    for code, rule in RULES.items():
        module = importlib.import_module(f"edcconf.rules.{rule.family}")
        assert any(v is rule or (isinstance(v, dict) and rule in v.values()) for v in vars(module).values()), (
            f"{code} says family {rule.family}, but edcconf/rules/{rule.family}.py does not hold it"
        )


def test_emitters_use_the_registered_rule_not_a_string():
    written = literal_codes()
    assert not written, f"codes written as strings (use the family module's Rule): {written}"


def test_every_code_used_is_registered():
    unknown = {c: w for c, w in literal_codes().items() if c not in RULES}
    assert not unknown, f"codes emitted but not registered in edcconf/rules/: {unknown}"
    # every `X.code` resolves to a Rule (used_codes asserts it)
    assert set(used_codes()) <= set(RULES)


def test_every_registered_code_is_emitted():
    used = used_codes()
    unused = sorted(c for c in RULES if c not in used)
    assert not unused, f"registered codes nothing in the package uses (remove the rule): {unused}"


def test_every_rule_code_has_a_test():
    """Every error and warning (the refusals' codes are checked through their commands' exit and text)."""
    tests = "".join(p.read_text() for p in (REPO / "tests").rglob("*") if p.suffix in (".py", ".yaml"))
    judged = [c for c, r in RULES.items() if r.kind != "refusal"]
    untested = sorted(c for c in judged if not re.search(rf"(?<![a-z0-9-]){re.escape(c)}(?![a-z0-9-])", tests))
    assert not untested, f"rule codes no test mentions: {untested}"


def test_rule_doc_is_generated_from_the_registry():
    assert (REPO / "docs" / "rules.md").read_text() == render_rules(), (
        "docs/rules.md is stale: python -m edcconf.rules.book > docs/rules.md"
    )


def test_catalog_doc_is_generated_from_the_data():
    assert (REPO / "docs" / "catalogs.md").read_text() == render(), (
        "docs/catalogs.md is stale: python -m edcconf.catalogs.docs > docs/catalogs.md"
    )
