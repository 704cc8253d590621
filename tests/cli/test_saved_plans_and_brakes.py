"""Saved plans apply exactly what was reviewed or refuse; brakes stop plans that take away too much.

Every saved plan here is made as of today (apply happens today), except where the date is the point."""

import json
from datetime import date, timedelta

import pytest

from edcconf.plan.saved import _digest
from tests.conftest import run_cli
from tests.helpers import edit


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


TODAY = date.today()
YESTERDAY = TODAY - timedelta(days=1)
OTHER = (TODAY - timedelta(days=6)).isoformat()


def test_saved_plan_applies_exactly_and_then_nothing_is_left(mini_repo, cli):
    r = cli("plan", "--env", "production", "-out", "prod.plan", cwd=mini_repo)
    assert r.code == 2 and "Saved this plan to prod.plan" in r.out, r
    shown = cli("show", "prod.plan", "--json", cwd=mini_repo).json
    assert shown["environment"] == "production" and shown["summary"]["add"] == 15
    r = cli("apply", "prod.plan", cwd=mini_repo)
    assert r.code == 0 and "Apply complete: 15 changes applied to production" in r.out, r
    assert cli("plan", "--env", "production", cwd=mini_repo).code == 0
    audit = [json.loads(x) for x in (mini_repo / ".edcconf/audit/production.jsonl").read_text().splitlines()]
    assert audit[-1]["plan_digest"] == shown["digest"]


def test_protected_environment_applies_only_from_a_saved_plan(mini_repo, cli):
    r = cli("apply", "--env", "production", "--yes", cwd=mini_repo)
    assert r.code == 1 and "protected" in r.err


def test_stale_when_the_state_moved_on(mini_repo, cli):
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2
    assert cli("plan", "--env", "test", "--out", "b.plan", cwd=mini_repo).code == 2
    assert cli("apply", "a.plan", cwd=mini_repo).code == 0
    r = cli("apply", "b.plan", cwd=mini_repo)
    assert r.code == 1 and "stale" in r.err and "serial 0 → 1" in r.err, r


def test_stale_when_the_configuration_changed(mini_repo, cli):
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2
    edit(mini_repo, "studies/heart.yaml", "name: Heart outcomes", "name: Heart outcomes study")
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and "configuration changed" in r.err, r
    assert not (mini_repo / ".edcconf/state/test.json").exists()


def test_stale_when_made_by_another_version(mini_repo, cli):
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2
    data = json.loads((mini_repo / "a.plan").read_text())
    data.pop("digest")
    data["edcconf_version"] = "0.0.1"
    (mini_repo / "a.plan").write_text(json.dumps({**data, "digest": _digest(data)}))
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and "made by edcconf 0.0.1" in r.err, r


def test_a_modified_saved_plan_is_refused(mini_repo, cli):
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2
    text = (mini_repo / "a.plan").read_text().replace('"role": "crc"', '"role": "data_manager"', 1)
    (mini_repo / "a.plan").write_text(text)
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and "modified after it was saved" in r.err, r


def rewrite(root, name, change):
    """Edit a saved plan and recompute its digest, as anyone who can write the file can."""
    data = json.loads((root / name).read_text())
    data.pop("digest")
    change(data)
    (root / name).write_text(json.dumps({**data, "digest": _digest(data)}))


def nothing_applied(root, env="test"):
    return (
        not (root / f".edcconf/state/{env}.json").exists()
        and not (root / "build").exists()
        and not (root / f".edcconf/audit/{env}.jsonl").exists()
    )


def grant_change(data, key):
    (change,) = [c for c in data["changes"] if c["kind"] == "grant" and c["key"] == key]
    return change


def test_a_tampered_change_with_a_recomputed_digest_is_refused_and_nothing_applied(mini_repo, cli):
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2

    def more_for_cara(data):  # the reviewed plan gave cara.crc no access to adverse_events
        change = grant_change(data, "HEART-01/cara.crc")
        change["after"]["forms"]["adverse_events"] = "edit"
        change["stored"]["role"] = "data_manager"

    rewrite(mini_repo, "a.plan", more_for_cara)
    assert "modified after it was saved" not in cli("show", "a.plan", cwd=mini_repo).err  # the digest matches
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1, r
    assert "is not the plan that the configuration and state it names give" in r.err
    assert "grant HEART-01/cara.crc differs (after, stored)" in r.err and "nothing was applied" in r.err
    assert nothing_applied(mini_repo)
    js = cli("apply", "a.plan", "--json", cwd=mini_repo)
    assert js.code == 1 and js.json["errors"][0]["code"] == "plan-mismatch"


@pytest.mark.parametrize(
    "tamper, named",
    [
        (lambda d: d["changes"].pop(), "the file lacks create grant HEART-01/mona.mon"),
        (
            lambda d: d["changes"].append({**grant_change(d, "HEART-01/cara.crc"), "key": "HEART-01/eve.extra"}),
            "the file has create grant HEART-01/eve.extra, which the configuration does not plan",
        ),
        (lambda d: d["changes"].reverse(), "the changes are listed in another order"),
        (lambda d: d["warnings"].clear(), "warnings differ (0 in the file, 2 now)"),
        (lambda d: d["systems"].update({"HEART-01": "redcap"}), "the studies' systems differ"),
        (lambda d: d["sources"].clear(), "the declaration sources differ"),
        (
            lambda d: grant_change(d, "HEART-01/cara.crc").update(reason="unchanged"),
            "grant HEART-01/cara.crc differs (reason)",
        ),
    ],
)
def test_any_edit_of_a_saved_plan_is_named_and_refused(mini_repo, cli, tamper, named):
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2
    rewrite(mini_repo, "a.plan", tamper)
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and named in r.err, r
    assert nothing_applied(mini_repo)


def test_a_plan_for_test_relabelled_production_is_refused(mini_repo, cli):
    """Both states are empty and the configuration is the same: only planning again tells them apart."""
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2
    rewrite(mini_repo, "a.plan", lambda d: d.update(environment="production"))
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and "is not the plan" in r.err and "the file lacks create grant HEART-01/vera.view" in r.err, r
    assert nothing_applied(mini_repo, "production")


def test_removed_brakes_are_checked_again(mini_repo, cli):
    set_safety(mini_repo, "test", "{max_revocations: 1}")
    applied(mini_repo, cli)
    edit(mini_repo, "studies/heart.yaml", "    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n",
        "",
    )
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2
    rewrite(mini_repo, "a.plan", lambda d: d["brakes"].clear())
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and "brakes none in the file, mass-revocation now" in r.err, r
    state = json.loads((mini_repo / ".edcconf/state/test.json").read_text())
    assert state["serial"] == 1 and "HEART-01/cara.crc" in state["effective"]["grants"]
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2  # the honest plan
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and "--allow-mass-revocation" in r.err, r
    assert cli("apply", "a.plan", "--allow-mass-revocation", cwd=mini_repo).code == 0


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(environment=["test"]),
        lambda d: d["state"].update(serial="0"),
        lambda d: d.update(config_digest=None),
        lambda d: d["changes"][0].update(key={"a": 1}),
        lambda d: d.update(brakes=["x"]),
        lambda d: d.update(sources=[1]),
        lambda d: d.pop("created_at"),
    ],
)
def test_a_saved_plan_of_the_wrong_shape_is_a_clear_error(mini_repo, cli, damage):
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2
    rewrite(mini_repo, "a.plan", damage)
    for args in (["apply", "a.plan"], ["show", "a.plan"]):
        r = cli(*args, cwd=mini_repo)
        assert r.code == 1 and "is damaged" in r.err and "Traceback" not in r.err, r
    assert nothing_applied(mini_repo)


def test_a_plan_made_with_at_another_date_needs_allow_other_date(mini_repo, cli):
    assert cli("plan", "--env", "test", "--at", OTHER, "--out", "a.plan", cwd=mini_repo).code == 2
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and f"was planned as of {OTHER} (plan --at), not today" in r.err, r
    assert "--allow-other-date" in r.err and nothing_applied(mini_repo)
    assert cli("apply", "a.plan", "--json", cwd=mini_repo).json["errors"][0]["code"] == "plan-date"
    r = cli("apply", "a.plan", "--allow-other-date", cwd=mini_repo)
    assert r.code == 0 and "Apply complete: 14 changes applied to test" in r.out, r


def test_a_protected_environment_never_takes_a_plan_of_another_date(mini_repo, cli):
    assert cli("plan", "--env", "production", "--at", OTHER, "--out", "p.plan", cwd=mini_repo).code == 2
    r = cli("apply", "p.plan", cwd=mini_repo)
    assert r.code == 1 and "plan --at" in r.err and "--allow-other-date" not in r.err, r
    r = cli("apply", "p.plan", "--allow-other-date", cwd=mini_repo)
    assert r.code == 1 and "production is protected" in r.err and "--allow-other-date is for unprotected" in r.err
    assert nothing_applied(mini_repo, "production")


def test_apply_has_no_at(mini_repo, cli):
    for args in (["apply", "--env", "test", "--yes", "--at", "2026-11-24"], ["apply", "a.plan", "--at", "2026-11-24"]):
        r = cli(*args, cwd=mini_repo)
        assert r.code == 1 and "apply has no --at" in r.err and "plan --at" in r.err, r
    r = cli("apply", "--env", "test", "--yes", "--allow-other-date", cwd=mini_repo)
    assert r.code == 1 and "--allow-other-date is for a saved plan" in r.err
    assert nothing_applied(mini_repo)


def test_a_plan_of_its_own_day_applies_a_day_later_only_if_today_gives_the_same_plan(mini_repo, cli):
    """Planned yesterday as of yesterday (no --at), reviewed, applied today: fine while nothing it depends on
    expired in between; once something did, it is refused (and no edit of its dates helps)."""

    def planned_yesterday(data):
        data.update(planned_on=YESTERDAY.isoformat())

    assert cli("plan", "--env", "production", "--at", YESTERDAY.isoformat(), "--out", "p.plan", cwd=mini_repo).code == 2
    rewrite(mini_repo, "p.plan", planned_yesterday)
    edit(
        mini_repo,
        "groups/staff.yaml",
        "name: Vera Viewer, expires: 2027-03-31}",
        f"name: Vera Viewer, expires: {YESTERDAY.isoformat()}}}",
    )
    r = cli("apply", "p.plan", cwd=mini_repo)
    assert r.code == 1 and "stale" in r.err  # the configuration changed: planned again below
    assert cli("plan", "--env", "production", "--at", YESTERDAY.isoformat(), "--out", "p.plan", cwd=mini_repo).code == 2
    rewrite(mini_repo, "p.plan", planned_yesterday)
    r = cli("apply", "p.plan", cwd=mini_repo)
    assert r.code == 1 and f"was planned as of {YESTERDAY.isoformat()}; as of today ({TODAY.isoformat()})" in r.err, r
    assert "create grant HEART-01/vera.view" in r.err and "--allow-other-date" not in r.err  # protected
    assert nothing_applied(mini_repo, "production")
    edit(
        mini_repo,
        "groups/staff.yaml",
        f"name: Vera Viewer, expires: {YESTERDAY.isoformat()}}}",
        "name: Vera Viewer, expires: 2027-03-31}",
    )
    assert cli("plan", "--env", "production", "--at", YESTERDAY.isoformat(), "--out", "p.plan", cwd=mini_repo).code == 2
    rewrite(mini_repo, "p.plan", planned_yesterday)
    r = cli("apply", "p.plan", cwd=mini_repo)
    assert r.code == 0 and "Apply complete: 15 changes applied to production" in r.out, r


def applied(mini_repo, cli, env="test"):
    if env == "test":
        assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    else:
        assert cli("plan", "--env", env, "--out", "p.plan", cwd=mini_repo).code == 2
        assert cli("apply", "p.plan", cwd=mini_repo).code == 0


def set_safety(mini_repo, env, safety):
    edit(mini_repo, "environments/envs.yaml", f"  - name: {env}\n", f"  - name: {env}\n    safety: {safety}\n")


def test_mass_revocation_from_grant_lines(mini_repo, cli):
    set_safety(mini_repo, "test", "{max_revocations: 1}")
    applied(mini_repo, cli)
    edit(mini_repo, "studies/heart.yaml", "    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n",
        "",
    )
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo).json
    assert [b["code"] for b in plan["brakes"]] == ["mass-revocation"]
    r = cli("apply", "--env", "test", "--yes", cwd=mini_repo)
    assert r.code == 1 and "--allow-mass-revocation" in r.err and "revokes or lowers 2 grants" in r.err
    assert cli("apply", "--env", "test", "--yes", "--allow-mass-revocation", cwd=mini_repo).code == 0


@pytest.mark.parametrize("change", ["role", "site", "fraction"])
def test_mass_revocation_counted_on_effective_permissions(mini_repo, cli, change):
    if change == "fraction":
        set_safety(mini_repo, "test", "{max_revocation_fraction: 0.3}")
    else:
        set_safety(mini_repo, "test", "{max_revocations: 1}")
    if change != "site":  # two people hold the custom role crc_safety
        edit(mini_repo, "studies/heart.yaml", "role: crc,", "role: crc_safety,")
        edit(
            mini_repo,
            "studies/heart.yaml",
            "user: mona.mon, role: safety_monitor",
            "user: mona.mon, role: crc_safety, environments: all, sites: [BOS]} #",
        )
    applied(mini_repo, cli)
    if change == "role" or change == "fraction":  # one role line lowers two people's access
        edit(
            mini_repo,
            "studies/heart.yaml",
            "crc_safety: {base: crc, tags: {safety: edit}}",
            "crc_safety: {base: crc, tags: {safety: read}}",
        )
    else:  # dropping a site takes it from everyone granted all sites
        edit(mini_repo, "studies/heart.yaml", "sites: [BOS, NYC, LYON]", "sites: [BOS, NYC]")
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo).json
    assert [b["code"] for b in plan["brakes"]] == ["mass-revocation"], plan["brakes"]
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 1


def test_data_manager_floor_in_a_protected_environment(mini_repo, cli):
    applied(mini_repo, cli, "production")
    edit(mini_repo, "groups/staff.yaml", "name: Dina Manager}", "name: Dina Manager, status: deactivated}")
    r = cli("plan", "--env", "production", "--out", "p2.plan", cwd=mini_repo)
    assert r.code == 2 and "data-manager-floor" in r.out and "HEART-01 would keep 0 people" in r.out
    r = cli("apply", "p2.plan", cwd=mini_repo)
    assert r.code == 1 and "min_data_managers is 1" in r.err, r
    assert json.loads((mini_repo / ".edcconf/state/production.json").read_text())["serial"] == 1


def test_no_floor_by_default_in_unprotected_environments(mini_repo, cli):
    applied(mini_repo, cli)
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: dina.dm, role: data_manager, environments: all, sites: all}\n",
        "",
    )
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0


def guards_in_state(root, env):
    return json.loads((root / f".edcconf/state/{env}.json").read_text())["effective"]["environment"][env]


def test_an_apply_records_the_guards_it_declared(mini_repo, cli):
    set_safety(mini_repo, "test", "{max_revocations: 3, max_revocation_fraction: 0.5}")
    applied(mini_repo, cli)
    assert guards_in_state(mini_repo, "test") == {
        "protected": False,
        "safety": {"max_revocations": 3, "max_revocation_fraction": 0.5, "min_data_managers": 0},
    }
    applied(mini_repo, cli, "production")  # nothing declared: the documented defaults
    assert guards_in_state(mini_repo, "production") == {
        "protected": True,
        "safety": {"max_revocations": 25, "min_data_managers": 1},
    }
    shown = cli("show", "--env", "production", cwd=mini_repo).out
    assert "Guards as applied: protected; safety max_revocations 25, min_data_managers 1" in shown
    assert cli("show", "--env", "test", "--json", cwd=mini_repo).json["guards"]["safety"]["max_revocations"] == 3
    assert cli("plan", "--env", "test", cwd=mini_repo).code == 0


def test_raising_max_revocations_in_the_same_change_does_not_lift_the_brake(mini_repo, cli):
    set_safety(mini_repo, "test", "{max_revocations: 1}")
    applied(mini_repo, cli)
    edit(mini_repo, "environments/envs.yaml", "safety: {max_revocations: 1}", "safety: {max_revocations: 100}")
    edit(mini_repo, "studies/heart.yaml", "    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n",
        "",
    )
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo).json
    first = plan["changes"][0]
    assert (first["kind"], first["action"], first["key"]) == ("environment", "update", "test")
    assert (
        first["details"] == ["safety.max_revocations: 1 → 100"] and first["after"]["safety"]["max_revocations"] == 100
    )
    assert [b["code"] for b in plan["brakes"]] == ["mass-revocation"]
    assert (
        "safety.max_revocations (1, as last applied to test; the configuration's 100 takes effect after this "
        "apply)" in plan["brakes"][0]["message"]
    )
    text = cli("plan", "--env", "test", cwd=mini_repo).out
    assert text.index("# Environment test: protection and safety") < text.index("# Study HEART-01")
    assert "~ environment test will be changed" in text and "why:   safety.max_revocations: 1 → 100" in text
    md = cli("plan", "--env", "test", "--format", "markdown", cwd=mini_repo).out
    assert md.index("changes the protection or safety limits of test") < md.index("mass-revocation")
    assert md.index("<b>Environment test: protection and safety</b>") < md.index("<b>Study HEART-01</b>")
    r = cli("apply", "--env", "test", "--yes", cwd=mini_repo)
    assert r.code == 1 and "revokes or lowers 2 grants" in r.err and "--allow-mass-revocation" in r.err, r
    assert cli("plan", "--env", "test", "--out", "a.plan", cwd=mini_repo).code == 2  # a saved plan is held the same
    assert cli("apply", "a.plan", cwd=mini_repo).code == 1
    assert guards_in_state(mini_repo, "test")["safety"]["max_revocations"] == 1
    assert cli("apply", "a.plan", "--allow-mass-revocation", cwd=mini_repo).code == 0
    assert guards_in_state(mini_repo, "test")["safety"]["max_revocations"] == 100  # from the next apply on
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: mona.mon, role: safety_monitor, environments: all, sites: all}\n",
        "",
    )
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: dina.dm, role: data_manager, environments: all, sites: all}\n",
        "",
    )
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0


def test_deleting_safety_falls_back_to_the_defaults_never_to_no_limit(mini_repo, cli):
    set_safety(mini_repo, "test", "{max_revocations: 1}")
    applied(mini_repo, cli)
    edit(mini_repo, "environments/envs.yaml", "    safety: {max_revocations: 1}\n", "")
    edit(mini_repo, "studies/heart.yaml", "    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n",
        "",
    )
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo).json
    assert plan["changes"][0]["details"] == ["safety.max_revocations: 1 → 25"]
    assert [b["code"] for b in plan["brakes"]] == ["mass-revocation"]
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 1
    assert cli("apply", "--env", "test", "--yes", "--allow-mass-revocation", cwd=mini_repo).code == 0
    assert guards_in_state(mini_repo, "test")["safety"]["max_revocations"] == 25


def test_unprotecting_in_the_same_change_still_protects_this_apply(mini_repo, cli):
    applied(mini_repo, cli, "production")
    edit(mini_repo, "environments/envs.yaml", "    protected: true\n", "    protected: false\n")
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: vera.view, role: viewer, environments: [production], countries: [US]}\n",
        "",
    )
    plan = cli("plan", "--env", "production", "--json", cwd=mini_repo).json
    assert plan["changes"][0]["kind"] == "environment" and "protected: true → false" in plan["changes"][0]["details"]
    r = cli("apply", "--env", "production", "--yes", cwd=mini_repo)
    assert r.code == 1 and "production is protected (as last applied" in r.err, r
    assert json.loads((mini_repo / ".edcconf/state/production.json").read_text())["serial"] == 1
    assert cli("plan", "--env", "production", "--out", "p.plan", cwd=mini_repo).code == 2  # reviewed: applies
    assert cli("apply", "p.plan", cwd=mini_repo).code == 0
    assert guards_in_state(mini_repo, "production")["protected"] is False
    edit(mini_repo, "studies/heart.yaml", "sites: [BOS, NYC, LYON]", "sites: [BOS, NYC]")
    assert cli("apply", "--env", "production", "--yes", cwd=mini_repo).code == 0  # the next apply is unprotected


def test_lowering_the_data_manager_floor_with_the_last_data_manager_is_still_refused(mini_repo, cli):
    applied(mini_repo, cli, "production")
    set_safety(mini_repo, "production", "{min_data_managers: 0}")
    edit(mini_repo, "groups/staff.yaml", "name: Dina Manager}", "name: Dina Manager, status: deactivated}")
    assert cli("plan", "--env", "production", "--out", "p.plan", cwd=mini_repo).code == 2
    r = cli("apply", "p.plan", cwd=mini_repo)
    assert r.code == 1 and "safety.min_data_managers is 1, as last applied to production" in r.err, r


def test_an_older_state_without_guards_is_held_to_the_configuration(mini_repo, cli):
    """A state written before guards were recorded: the configuration's values (defaults filled in), no
    planned change; the next apply records them."""
    set_safety(mini_repo, "test", "{max_revocations: 1}")
    applied(mini_repo, cli)
    path = mini_repo / ".edcconf/state/test.json"
    state = json.loads(path.read_text())
    del state["effective"]["environment"]
    path.write_text(json.dumps(state))
    assert cli("plan", "--env", "test", cwd=mini_repo).code == 0
    edit(mini_repo, "studies/heart.yaml", "    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n",
        "",
    )
    plan = cli("plan", "--env", "test", "--json", cwd=mini_repo).json
    assert [c["kind"] for c in plan["changes"]] == ["grant", "grant"]
    assert [b["code"] for b in plan["brakes"]] == ["mass-revocation"]
    assert cli("apply", "--env", "test", "--yes", "--allow-mass-revocation", cwd=mini_repo).code == 0
    assert guards_in_state(mini_repo, "test")["safety"]["max_revocations"] == 1


def test_guard_defaults_are_limits():
    from types import SimpleNamespace

    from edcconf.plan import Change
    from edcconf.plan.brakes import Guards, brakes_from_counts, declared_guards

    bare = declared_guards(SimpleNamespace(name="t", protected=False, safety={}))
    assert bare == {"protected": False, "safety": {"max_revocations": 25, "min_data_managers": 0}}
    revokes = tuple(Change("revoke", "grant", f"S/u{i}", {}, None, "", "", study="S") for i in range(26))
    brakes = brakes_from_counts(revokes, Guards("t", bare, bare), {}, {}, {}, (), ())
    assert [b.code for b in brakes] == ["mass-revocation"]
    assert not brakes_from_counts(revokes[:25], Guards("t", bare, bare), {}, {}, {}, (), ())
