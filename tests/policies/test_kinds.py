"""Each kind of access policy (docs/policies.md): one configuration that keeps it and one that breaks it,
with the exact code at the exact file:line, on the mini organisation (tests/fixtures/mini)."""

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, copy_config
from tests.conftest import run_inprocess as run

HEART = "studies/heart.yaml"
LAST_GRANT = "    - {user: vera.view, role: viewer, environments: [production], countries: [US]}\n"


def org(tmp_path: Path, policies: str, edits: tuple[tuple[str, str, str], ...] = ()) -> Path:
    root = copy_config(FIXTURES / "mini", tmp_path / "repo")
    for rel, old, new in edits:
        path = root / rel
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
    (root / "policies").mkdir()
    (root / "policies/sod.yaml").write_text("access_policies:\n" + policies)
    return root


def judged(root: Path) -> tuple[int, list[str], list[str], str]:
    code, out, err = run(root, "validate", "--json")
    assert "Traceback" not in out + err, err
    doc = json.loads(out)
    pick = lambda items: sorted(f"{d['code']}@{d['source']}" for d in items if d["code"].startswith("policy-"))  # noqa: E731
    messages = " ".join(d["message"] for d in doc["errors"] + doc["warnings"])
    return code, pick(doc["errors"]), pick(doc["warnings"]), messages


EXCLUSIVE_ROLES = """  - id: no-self-monitoring
    kind: exclusive
    roles: [crc, monitor]
    scope: {scope}
"""
SECOND_ROLE = (
    HEART,
    LAST_GRANT,
    LAST_GRANT + "    - {user: cara.crc, role: safety_monitor, environments: all, sites: [NYC]}\n",
)


def test_exclusive_roles_in_one_study(tmp_path):
    code, errors, _, says = judged(org(tmp_path, EXCLUSIVE_ROLES.format(scope="study"), (SECOND_ROLE,)))
    assert code == 1 and errors == [f"policy-exclusive@{HEART}:23"]
    assert f"role crc ({HEART}:18) and role monitor ({HEART}:23) in HEART-01" in says
    assert "policy no-self-monitoring at policies/sod.yaml:2" in says


def test_exclusive_roles_at_one_site_allows_other_sites(tmp_path):
    code, errors, warnings, _ = judged(org(tmp_path, EXCLUSIVE_ROLES.format(scope="site"), (SECOND_ROLE,)))
    assert (code, errors, warnings) == (0, [], [])


EXCLUSIVE_TAGS = """  - id: blinding
    kind: exclusive
    tags: [safety, pii]
"""
PII_TAG = (
    (HEART, "  tags: [safety]\n", "  tags: [safety, pii]\n"),
    (HEART, "{id: contact_info, contact_data: true}", "{id: contact_info, contact_data: true, tags: [pii]}"),
)


def test_exclusive_tags_kept(tmp_path):
    code, errors, warnings, _ = judged(org(tmp_path, EXCLUSIVE_TAGS, PII_TAG))
    assert (code, errors, warnings) == (0, [], [])


def test_exclusive_tags_through_one_grant(tmp_path):
    both = (HEART, "tags: {safety: review}", "tags: {safety: review, pii: read}")
    code, errors, _, says = judged(org(tmp_path, EXCLUSIVE_TAGS, PII_TAG + (both,)))
    assert code == 1 and errors == [f"policy-exclusive@{HEART}:20"]
    assert f"mona.mon holds tag safety and tag pii in HEART-01 through one grant ({HEART}:20)" in says


MAX_HOLDERS = """  - id: user-managers
    kind: max_holders
    right: user_rights
    max: {max}
"""


def test_max_holders_kept(tmp_path):
    code, errors, warnings, _ = judged(org(tmp_path, MAX_HOLDERS.format(max=1)))
    assert (code, errors, warnings) == (0, [], [])


def test_max_holders_exceeded(tmp_path):
    second = (
        HEART,
        LAST_GRANT,
        LAST_GRANT + "    - {user: vera.view, role: data_manager, environments: [test], sites: all}\n",
    )
    code, errors, _, says = judged(org(tmp_path, MAX_HOLDERS.format(max=1), (second,)))
    assert code == 1 and errors == [f"policy-max-holders@{HEART}:23"]
    assert (
        f"2 people hold user_rights (anything above none) in HEART-01, at most 1 may: dina.dm ({HEART}:21), vera.view ({HEART}:23)"
        in says
    )


REQUIRES = """  - id: export-needs-{needs}
    kind: requires
    right: data_export
    at_least: full
    requires: {needs}
"""


def test_requires_kept(tmp_path):
    code, errors, warnings, _ = judged(org(tmp_path, REQUIRES.format(needs="form_access")))
    assert (code, errors, warnings) == (0, [], [])


def test_requires_missing(tmp_path):
    code, errors, _, says = judged(org(tmp_path, REQUIRES.format(needs="contact_data")))
    assert code == 1 and errors == [f"policy-requires@{HEART}:21"]
    assert f"dina.dm holds data_export (full or above) in HEART-01 ({HEART}:21) without contact_data" in says


FOUR_EYES = """  - id: four-eyes
    kind: requester_not_approver
    description: two people decide on external access
"""
EXTERNAL = (
    "groups/staff.yaml",
    "    - {username: vera.view",
    "    - username: ext.eve\n      email: eve@cro.example.com\n      name: Eve External\n"
    "      external: {{organization: CRO, agreement_signed: 2026-01-05, basis: protocol, requested_by: {asked},"
    " approved_by: {approved}}}\n"
    "    - {{username: vera.view",
)


def external(asked: str, approved: str) -> tuple[str, str, str]:
    rel, old, new = EXTERNAL
    return rel, old, new.format(asked=asked, approved=approved)


def test_requester_not_approver_kept(tmp_path):
    code, errors, warnings, _ = judged(org(tmp_path, FOUR_EYES, (external("ivan.inv", "dina.dm"),)))
    assert (code, errors, warnings) == (0, [], [])


@pytest.mark.parametrize(
    "asked, approved, says",
    [
        (
            "ivan.inv",
            "ivan.inv",
            "access was requested (groups/staff.yaml:13) and approved (groups/staff.yaml:13) by the same person, ivan.inv",
        ),
        ("ivan.inv", "ext.eve", "ext.eve approved their own access"),
    ],
)
def test_requester_not_approver_broken(tmp_path, asked, approved, says):
    code, errors, _, message = judged(org(tmp_path, FOUR_EYES, (external(asked, approved),)))
    assert code == 1 and errors == ["policy-requester-approver@groups/staff.yaml:13"]
    assert says in message and "policy four-eyes at policies/sod.yaml:2: two people decide" in message


def test_warn_enforcement_is_a_warning(tmp_path):
    code, errors, warnings, _ = judged(org(tmp_path, REQUIRES.format(needs="contact_data") + "    enforcement: warn\n"))
    assert (code, errors, warnings) == (0, [], [f"policy-requires@{HEART}:21"])


def test_studies_filter_by_id_and_by_tag(tmp_path):
    for studies, fires in (("[HEART-01]", True), ("[safety]", True), ("[OTHER-9]", False)):
        policy = REQUIRES.format(needs="contact_data") + f"    studies: {studies}\n"
        code, errors, _, _ = judged(org(tmp_path / studies.strip("[]"), policy))
        assert (code == 1) is fires and bool(errors) is fires
