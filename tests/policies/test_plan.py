"""Policies in `plan`: a violated `error` policy stops the plan (exit 1, the violation on stderr); a `warn`
policy's violation is one of the plan's warnings (exit 2: changes); and the incremental planner gives the
same plan as the full one when policies judge the studies it re-plans."""

import shutil

from tests.conftest import run_inprocess as run
from tests.plan.test_incremental import EDITS, _incremental_in_process, _plans, applied  # noqa: F401 (a fixture)
from tests.policies.test_kinds import HEART, REQUIRES, org

AT = ("--at", "2026-11-24")


def test_plan_stops_on_a_violation(tmp_path):
    code, out, err = run(org(tmp_path, REQUIRES.format(needs="contact_data")), "plan", "--env", "test", *AT)
    assert code == 1 and "Traceback" not in out + err
    assert f"{HEART}:21" in err and "[policy-requires]" in err and "export-needs-contact_data" in err


def test_plan_shows_a_warn_policy_as_a_warning(tmp_path):
    policy = REQUIRES.format(needs="contact_data") + "    enforcement: warn\n"
    code, out, err = run(org(tmp_path, policy), "plan", "--env", "test", *AT)
    assert code == 2 and "Traceback" not in out + err
    assert "[policy-requires]" in out + err and "dina.dm holds data_export (full or above) in HEART-01" in out + err
    code, out, err = run(tmp_path / "repo", "plan", "--env", "test", *AT, "--format", "markdown")
    section = out.split("<b>Access reviews, qualifications and policies</b>", 1)[1].split("</details>", 1)[0]
    assert "| policy | warning `policy-requires` | " in section and "dina.dm holds data_export" in section


POLICIES = """access_policies:
  - {id: few-editors, kind: max_holders, right: form_access, at_least: edit, max: 1, enforcement: warn}
  - {id: export-with-contact, kind: requires, right: data_export, requires: contact_data, enforcement: warn}
  - {id: one-role, kind: exclusive, roles: [crc, viewer], enforcement: warn}
  - {id: four-eyes, kind: requester_not_approver, enforcement: warn}
"""


def test_incremental_plan_with_policies_equals_the_full_one(applied, tmp_path):  # noqa: F811
    root = tmp_path / "org"
    shutil.copytree(applied, root, ignore=shutil.ignore_patterns("cache"))
    (root / "policies").mkdir()
    (root / "policies" / "sod.yaml").write_text(POLICIES)
    first = _plans(root, "test", cached=True)  # a full plan (a global file is new) stores the base
    assert "[policy-max-holders]" in first[1]
    seen = set()
    for what, is_global, edit in EDITS:
        edit(root)
        assert _incremental_in_process(root, "test") != is_global, what
        cached, fresh = _plans(root, "test", cached=True), _plans(root, "test", cached=False)
        assert cached == fresh, what
        seen |= {code for code in ("policy-exclusive", "policy-requires") if f"[{code}]" in fresh[1]}
        if is_global:
            _plans(root, "test", cached=True)
    assert seen == {"policy-exclusive", "policy-requires"}
