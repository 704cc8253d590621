"""What a partial plan adds because it is needed, for changes that take something away (the CLI tests in
tests/cli/test_partial_plans.py cover the ones that give access)."""

from datetime import date

import pytest

from edcconf.diagnostics import UserError
from edcconf.plan import Change, Plan
from edcconf.plan.brakes import Guards, declared_guards
from edcconf.plan.select import Selection, select


def grant(study, user, sites, role="crc"):
    return {
        "study": study,
        "user": user,
        "role": role,
        "base_role": role,
        "sites": sites,
        "forms": {},
        "close_queries": [],
        "sdv": [],
    }


def plan_of(*changes):
    return Plan("test", 1, "L", date(2026, 1, 1), tuple(changes))


GUARDS = Guards(
    "test",
    declared_guards(type("E", (), {"name": "test", "protected": False, "safety": {}})()),
    declared_guards(type("E", (), {"name": "test", "protected": False, "safety": {}})()),
)
APPLIED = {
    "studies": {"S": {"sites": ["A", "B"], "roles": {"r1": "v1"}}},
    "sites": {"A": {}, "B": {}},
    "groups": {"g": {}, "h": {}},
    "accounts": {"u": {"group": "g", "status": "active"}, "v": {"group": "g", "status": "active"}},
    "grants": {"S/u": {"study": "S", "user": "u"}, "S/v": {"study": "S", "user": "v"}},
}


def kept(plan, **selection):
    return [f"{c.kind}.{c.key}" for c in select(plan, Selection(**selection), APPLIED, APPLIED, GUARDS).changes]


def test_a_study_that_drops_a_site_brings_the_grants_at_it():
    study = Change(
        "update",
        "study",
        "S",
        {"sites": ["A", "B"], "roles": {}},
        {"sites": ["A"], "roles": {}},
        "sites",
        "",
        study="S",
    )
    at_b = Change("update", "grant", "S/u", grant("S", "u", ["A", "B"]), grant("S", "u", ["A"]), "", "", study="S")
    at_a = Change("update", "grant", "S/v", grant("S", "v", ["A"]), grant("S", "v", ["A"], "dm"), "", "", study="S")
    site = Change("revoke", "site", "B", {}, None, "", "")
    plan = plan_of(study, at_b, at_a, site)
    assert kept(plan, targets=("study.S",)) == ["study.S", "grant.S/u"]
    assert kept(plan, targets=("site.B",)) == ["study.S", "grant.S/u", "site.B"]


def test_a_revoked_group_brings_the_accounts_that_leave_it_and_a_revoked_study_its_grants():
    moved = Change(
        "update", "account", "u", {"group": "g", "status": "active"}, {"group": "h", "status": "active"}, "", ""
    )
    other = Change(
        "update",
        "account",
        "v",
        {"group": "g", "status": "active"},
        {"group": "g", "status": "active", "name": "V"},
        "",
        "",
    )
    gone = Change("revoke", "group", "g", {}, None, "", "")
    assert kept(plan_of(moved, other, gone), targets=("group.g",)) == ["account.u", "group.g"]
    revokes = [Change("revoke", "grant", f"S/{u}", grant("S", u, ["A"]), None, "", "", study="S") for u in "uv"]
    study = Change("revoke", "study", "S", {"sites": ["A"]}, None, "", "", study="S")
    assert kept(plan_of(*revokes, study), targets=("study.S",)) == ["grant.S/u", "grant.S/v", "study.S"]


def test_what_needs_a_selected_change_is_not_brought():
    account = Change("create", "account", "w", None, {"group": "g", "status": "active"}, "", "")
    new = Change("create", "grant", "S/w", None, grant("S", "w", ["A"]), "", "", study="S")
    assert kept(plan_of(account, new), targets=("account.w",)) == ["account.w"]
    assert kept(plan_of(account, new), targets=("grant.S/w",)) == ["account.w", "grant.S/w"]


@pytest.mark.parametrize(
    "selection, code",
    [
        ({"studies": ("T",)}, "unknown-target"),
        ({"targets": ("grant.S/x",)}, "unknown-target"),
        ({"targets": ("account.x*",)}, "unknown-target"),
        ({"targets": ("S/u",)}, "usage"),
        ({"targets": ("role.v1",)}, "usage"),
        ({"targets": ("environment.test",)}, "usage"),
    ],
)
def test_unknown_or_malformed_selections_are_refused(selection, code):
    with pytest.raises(UserError) as raised:
        select(plan_of(), Selection(**selection), APPLIED, APPLIED, GUARDS)
    assert raised.value.code == code
