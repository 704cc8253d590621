"""Plan stage: a keyed diff of effective states, in dependency order, each change with its reason."""

from datetime import date

from edcconf.pipeline import load_desired
from edcconf.plan import make_plan
from edcconf.state import fold
from tests.conftest import write
from tests.helpers import edit

DAY = date(2026, 11, 24)


def plan_for(root, env="test", applied=None, sources=None, at=DAY):
    desired = load_desired(root, at, [env])
    env_state = desired.resolution.environments[env]
    return make_plan(env_state, applied or {}, sources or {}, 0, None), env_state


def applied_state(root, env="test", at=DAY):
    plan, env_state = plan_for(root, env, at=at)
    return fold({}, plan.changes), dict(env_state.sources)


def test_first_plan_creates_in_dependency_order(mini_repo):
    plan, _ = plan_for(mini_repo)
    kinds = [(c.kind, c.action) for c in plan.changes]
    assert (
        kinds.index(("site", "create"))
        < kinds.index(("study", "create"))
        < kinds.index(("account", "create"))
        < kinds.index(("grant", "create"))
    )
    assert plan.summary == {"add": len(plan.changes), "change": 0, "revoke": 0}


def test_applied_state_plans_nothing_and_moving_files_plans_nothing(mini_repo):
    applied, sources = applied_state(mini_repo)
    assert plan_for(mini_repo, applied=applied, sources=sources)[0].empty
    (mini_repo / "groups" / "staff.yaml").rename(mini_repo / "studies" / "people.yaml")
    assert plan_for(mini_repo, applied=applied, sources=sources)[0].empty


def test_role_change_is_one_update_with_form_detail(mini_repo):
    applied, sources = applied_state(mini_repo)
    edit(mini_repo, "studies/heart.yaml", "user: cara.crc, role: crc,", "user: cara.crc, role: crc_safety,")
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources)
    (change,) = plan.changes
    assert (change.action, change.kind, change.key) == ("update", "grant", "HEART-01/cara.crc")
    assert change.reason == "role crc → crc_safety; form adverse_events: none → edit"
    assert change.before["forms"]["adverse_events"] == "none" and change.after["forms"]["adverse_events"] == "edit"
    assert change.source == "studies/heart.yaml:18"


def test_changing_a_custom_role_updates_every_grant_that_uses_it(mini_repo):
    applied, sources = applied_state(mini_repo)
    edit(mini_repo, "studies/heart.yaml", "tags: {safety: review}", "tags: {safety: read}")
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources)
    assert [(c.key, c.reason) for c in plan.changes] == [
        ("HEART-01", "role safety_monitor redefined"),  # 004: the role's redefinition is logged on its own
        ("HEART-01/mona.mon", "form adverse_events: review → read; close queries lost on adverse_events"),
    ]


def test_redefining_a_role_nobody_holds_is_a_study_change(mini_repo):
    """004 logs every change of a role's rights definition: one that affects nobody yet too."""
    applied, sources = applied_state(mini_repo)
    assert applied["studies"]["HEART-01"]["roles"].keys() == {"crc_safety", "safety_monitor"}  # crc_safety: unused
    edit(
        mini_repo,
        "studies/heart.yaml",
        "crc_safety: {base: crc, tags: {safety: edit}}",
        "crc_safety: {base: crc, tags: {safety: read}}",
    )
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources)
    (change,) = plan.changes
    assert (change.action, change.kind, change.key, change.reason) == (
        "update",
        "study",
        "HEART-01",
        "role crc_safety redefined",
    )
    assert change.before["roles"]["crc_safety"] != change.after["roles"]["crc_safety"]
    assert change.to_json()["details"] == ["role crc_safety redefined"]
    after = fold(applied, plan.changes)
    assert plan_for(mini_repo, applied=after, sources=sources)[0].empty
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    crc_safety: {base: crc, tags: {safety: read}}\n",
        "    crc_safety2: {base: crc, tags: {safety: read}}\n",
    )
    plan, _ = plan_for(mini_repo, applied=after, sources=sources)
    assert [c.reason for c in plan.changes] == ["role crc_safety removed; role crc_safety2 defined"]


def test_a_state_from_before_role_versions_plans_no_role_change(mini_repo):
    applied, sources = applied_state(mini_repo)
    del applied["studies"]["HEART-01"]["roles"]  # written by an edcconf that did not record them
    assert plan_for(mini_repo, applied=applied, sources=sources)[0].empty
    edit(mini_repo, "studies/heart.yaml", "  name: Heart outcomes\n", "  name: Heart outcomes study\n")
    (change,) = plan_for(mini_repo, applied=applied, sources=sources)[0].changes
    assert change.reason == "name: Heart outcomes → Heart outcomes study" and "roles" in change.stored


def test_expiry_revokes_with_the_reason(mini_repo):
    applied, sources = applied_state(mini_repo, "production")
    plan, _ = plan_for(mini_repo, "production", applied, sources, at=date(2027, 4, 1))
    (change,) = plan.changes
    assert (change.action, change.key, change.reason) == (
        "revoke",
        "HEART-01/vera.view",
        "vera.view expired on 2027-03-31",
    )
    assert change.before["forms"] == {"contact_info": "none", "adverse_events": "none", "vitals": "read"}


def test_removed_grant_names_the_file_it_was_removed_from(mini_repo):
    applied, sources = applied_state(mini_repo)
    edit(mini_repo, "studies/heart.yaml", "    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
    (change,) = plan_for(mini_repo, applied=applied, sources=sources)[0].changes
    assert (change.action, change.reason, change.source) == (
        "revoke",
        "removed from studies/heart.yaml",
        "studies/heart.yaml:18",
    )


def test_username_change_is_deactivate_plus_create_and_says_so(mini_repo):
    applied, sources = applied_state(mini_repo)
    edit(mini_repo, "groups/staff.yaml", "username: cara.crc", "username: cara.coordinator")
    edit(mini_repo, "studies/heart.yaml", "user: cara.crc", "user: cara.coordinator")
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources)
    actions = [(c.action, c.kind, c.key) for c in plan.changes]
    assert actions == [
        ("create", "account", "cara.coordinator"),
        ("revoke", "grant", "HEART-01/cara.crc"),
        ("create", "grant", "HEART-01/cara.coordinator"),
        ("deactivate", "account", "cara.crc"),
    ]
    assert "usernames never change" in plan.changes[0].reason and "usernames never change" in plan.changes[-1].reason
    assert plan.summary == {"add": 2, "change": 0, "revoke": 2}


def test_deactivation_revokes_before_deactivating(mini_repo):
    applied, sources = applied_state(mini_repo)
    edit(mini_repo, "groups/staff.yaml", "name: Dina Manager}", "name: Dina Manager, status: deactivated}")
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources)
    assert [(c.action, c.key) for c in plan.changes] == [("revoke", "HEART-01/dina.dm"), ("deactivate", "dina.dm")]
    assert plan.changes[0].reason == "dina.dm is deactivated"
    reapplied = fold(applied, plan.changes)
    edit(mini_repo, "groups/staff.yaml", "status: deactivated}", "status: active}")
    plan, _ = plan_for(mini_repo, applied=reapplied, sources=sources)
    assert [(c.action, c.key) for c in plan.changes] == [("reactivate", "dina.dm"), ("create", "HEART-01/dina.dm")]


def test_site_added_to_study_is_created_before_the_study_changes(mini_repo):
    applied, sources = applied_state(mini_repo)
    write(mini_repo, "environments/more-sites.yaml", "sites:\n  - {id: OSLO, name: Oslo, country: NO}\n")
    edit(mini_repo, "studies/heart.yaml", "sites: [BOS, NYC, LYON]", "sites: [BOS, NYC, LYON, OSLO]")
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources)
    assert [(c.action, c.kind, c.key) for c in plan.changes][:2] == [
        ("create", "site", "OSLO"),
        ("update", "study", "HEART-01"),
    ]
    assert plan.changes[1].reason == "sites: BOS, LYON, NYC → BOS, LYON, NYC, OSLO"
    # dina.dm and mona.mon have all sites, so their grants reach the new site too
    assert {c.key for c in plan.changes if c.kind == "grant"} == {"HEART-01/dina.dm", "HEART-01/mona.mon"}


def test_new_external_account_names_the_pi_and_requester_to_notify(mini_repo):
    write(
        mini_repo,
        "groups/ext.yaml",
        """\
        group:
          id: ext
          ceiling: {form_access: review}
          members:
            - {username: eve.ext, email: eve@cro.example.com, name: Eve,
               expires: 2026-12-31,
               external: {organization: Acme CRO, agreement_signed: 2026-01-01, basis: sponsor, requested_by: dina.dm}}
        """,
    )
    edit(
        mini_repo, "studies/heart.yaml", "  access:\n", "  access:\n    - {user: eve.ext, role: monitor, sites: all}\n"
    )
    plan, _ = plan_for(mini_repo)
    (change,) = [c for c in plan.changes if c.key == "eve.ext"]
    assert change.notify == ("dina.dm", "ivan.inv") and change.reason == "new external account (Acme CRO)"
    assert change.to_json()["notify"] == ["dina.dm", "ivan.inv"]
    assert not [c for c in plan.changes if c.kind == "account" and c.key != "eve.ext" and c.notify]
    # 000 step 4: the agreement is recorded, and the EDC admins (none here) and the requester hear of it
    assert change.agreement_notify == ("dina.dm",) and change.after["agreement_signed"] == "2026-01-01"


def test_an_agreement_recorded_or_changed_tells_the_admins_and_the_requester(mini_repo):
    write(
        mini_repo,
        "groups/ext.yaml",
        """\
        group:
          id: ext
          ceiling: {form_access: review}
          members:
            - {username: eve.ext, email: eve@cro.example.com, name: Eve,
               external: {organization: Acme CRO, agreement_signed: 2026-01-01, basis: protocol, requested_by: ivan.inv}}
            - {username: ada.admin, email: ada@hospital.example.org, name: Ada, type: admin}
            - {username: old.admin, email: old@hospital.example.org, name: Old, type: admin, status: deactivated}
        """,
    )
    edit(mini_repo, "studies/heart.yaml", "pi: ivan.inv}", "pi: ivan.inv, staff: [eve.ext]}")
    edit(
        mini_repo, "studies/heart.yaml", "  access:\n", "  access:\n    - {user: eve.ext, role: monitor, sites: all}\n"
    )
    applied, sources = applied_state(mini_repo)
    (created,) = [c for c in plan_for(mini_repo)[0].changes if c.key == "eve.ext"]
    assert created.agreement_notify == ("ada.admin", "ivan.inv") and created.notify == ("ivan.inv",)
    # nothing new: nobody is told again
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources)
    assert not [c for c in plan.changes if c.agreement_notify]
    # a new agreement date is recorded again
    edit(mini_repo, "groups/ext.yaml", "agreement_signed: 2026-01-01", "agreement_signed: 2026-02-01")
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources)
    (change,) = [c for c in plan.changes if c.key == "eve.ext"]
    assert change.action == "update" and change.agreement_notify == ("ada.admin", "ivan.inv")
    assert change.to_json()["agreement_notify"] == ["ada.admin", "ivan.inv"]
    assert "agreement_signed: 2026-01-01 → 2026-02-01" in change.reason
    # another change of the account tells nobody of the agreement
    edit(mini_repo, "groups/ext.yaml", "agreement_signed: 2026-02-01", "agreement_signed: 2026-01-01")
    edit(mini_repo, "groups/ext.yaml", "name: Eve,", "name: Eve Ext,")
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources)
    (change,) = [c for c in plan.changes if c.key == "eve.ext"]
    assert change.action == "update" and change.agreement_notify == ()


def test_an_agreement_dated_later_gives_no_access_until_that_day(mini_repo):
    write(
        mini_repo,
        "groups/ext.yaml",
        """\
        group:
          id: ext
          ceiling: {form_access: review}
          members:
            - {username: eve.ext, email: eve@cro.example.com, name: Eve,
               external: {organization: Acme CRO, agreement_signed: 2026-12-15, basis: protocol, requested_by: ivan.inv}}
        """,
    )
    edit(mini_repo, "studies/heart.yaml", "pi: ivan.inv}", "pi: ivan.inv, staff: [eve.ext]}")
    edit(
        mini_repo, "studies/heart.yaml", "  access:\n", "  access:\n    - {user: eve.ext, role: monitor, sites: all}\n"
    )
    plan, env_state = plan_for(mini_repo, at=date(2026, 12, 14))
    assert "HEART-01/eve.ext" not in env_state.state["grants"]
    assert env_state.excluded["HEART-01/eve.ext"].reason.endswith("takes effect on 2026-12-15: no access before it")
    plan, env_state = plan_for(mini_repo, at=date(2026, 12, 15))
    assert env_state.state["grants"]["HEART-01/eve.ext"]["sites"] == ["BOS", "LYON", "NYC"]
    # applied before it took effect, then the date moves later: the grant is withdrawn again
    applied, sources = applied_state(mini_repo, at=date(2026, 12, 15))
    edit(mini_repo, "groups/ext.yaml", "2026-12-15", "2027-01-10")
    plan, _ = plan_for(mini_repo, applied=applied, sources=sources, at=date(2026, 12, 20))
    (revoke,) = [c for c in plan.changes if c.kind == "grant"]
    assert revoke.action == "revoke" and "takes effect on 2027-01-10" in revoke.reason


def test_admins_see_every_study(mini_repo):
    edit(mini_repo, "groups/staff.yaml", "name: Dina Manager}", "name: Dina Manager, type: admin}")
    plan, _ = plan_for(mini_repo)
    (study,) = [c for c in plan.changes if c.kind == "study"]
    assert study.after["admins"] == ["dina.dm"]
