"""Saved plans apply exactly what was reviewed or refuse; brakes stop plans that take away too much."""
import json

import pytest

from edcconf.plan.saved import _digest

AT = ["--at", "2026-11-24"]


def edit(root, rel, old, new):
    p = root / rel
    assert old in p.read_text(), old
    p.write_text(p.read_text().replace(old, new))


def test_saved_plan_applies_exactly_and_then_nothing_is_left(mini_repo, cli):
    r = cli("plan", "--env", "production", "-out", "prod.plan", *AT, cwd=mini_repo)
    assert r.code == 2 and "Saved this plan to prod.plan" in r.out, r
    shown = cli("show", "prod.plan", "--json", cwd=mini_repo).json
    assert shown["environment"] == "production" and shown["summary"]["add"] == 15
    r = cli("apply", "prod.plan", cwd=mini_repo)
    assert r.code == 0 and "Apply complete: 15 changes applied to production" in r.out, r
    assert cli("plan", "--env", "production", *AT, cwd=mini_repo).code == 0
    audit = [json.loads(x) for x in (mini_repo / ".edcconf/audit/production.jsonl").read_text().splitlines()]
    assert audit[-1]["plan_digest"] == shown["digest"]


def test_protected_environment_applies_only_from_a_saved_plan(mini_repo, cli):
    r = cli("apply", "--env", "production", "--yes", cwd=mini_repo)
    assert r.code == 1 and "protected" in r.err


def test_stale_when_the_state_moved_on(mini_repo, cli):
    assert cli("plan", "--env", "test", "--out", "a.plan", *AT, cwd=mini_repo).code == 2
    assert cli("plan", "--env", "test", "--out", "b.plan", *AT, cwd=mini_repo).code == 2
    assert cli("apply", "a.plan", cwd=mini_repo).code == 0
    r = cli("apply", "b.plan", cwd=mini_repo)
    assert r.code == 1 and "stale" in r.err and "serial 0 → 1" in r.err, r


def test_stale_when_the_configuration_changed(mini_repo, cli):
    assert cli("plan", "--env", "test", "--out", "a.plan", *AT, cwd=mini_repo).code == 2
    edit(mini_repo, "studies/heart.yaml", "name: Heart outcomes", "name: Heart outcomes study")
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and "configuration changed" in r.err, r
    assert not (mini_repo / ".edcconf/state/test.json").exists()


def test_stale_when_made_by_another_version(mini_repo, cli):
    assert cli("plan", "--env", "test", "--out", "a.plan", *AT, cwd=mini_repo).code == 2
    data = json.loads((mini_repo / "a.plan").read_text())
    data.pop("digest")
    data["edcconf_version"] = "0.0.1"
    (mini_repo / "a.plan").write_text(json.dumps({**data, "digest": _digest(data)}))
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and "made by edcconf 0.0.1" in r.err, r


def test_a_modified_saved_plan_is_refused(mini_repo, cli):
    assert cli("plan", "--env", "test", "--out", "a.plan", *AT, cwd=mini_repo).code == 2
    text = (mini_repo / "a.plan").read_text().replace('"role": "crc"', '"role": "data_manager"', 1)
    (mini_repo / "a.plan").write_text(text)
    r = cli("apply", "a.plan", cwd=mini_repo)
    assert r.code == 1 and "modified after it was saved" in r.err, r


def applied(mini_repo, cli, env="test"):
    if env == "test":
        assert cli("apply", "--env", "test", "--yes", *AT, cwd=mini_repo).code == 0
    else:
        assert cli("plan", "--env", env, "--out", "p.plan", *AT, cwd=mini_repo).code == 2
        assert cli("apply", "p.plan", cwd=mini_repo).code == 0


def set_safety(mini_repo, env, safety):
    edit(mini_repo, "environments/envs.yaml", f"  - name: {env}\n", f"  - name: {env}\n    safety: {safety}\n")


def test_mass_revocation_from_grant_lines(mini_repo, cli):
    set_safety(mini_repo, "test", "{max_revocations: 1}")
    applied(mini_repo, cli)
    edit(mini_repo, "studies/heart.yaml", "    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
    edit(mini_repo, "studies/heart.yaml", "    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n", "")
    plan = cli("plan", "--env", "test", "--json", *AT, cwd=mini_repo).json
    assert [b["code"] for b in plan["brakes"]] == ["mass-revocation"]
    r = cli("apply", "--env", "test", "--yes", *AT, cwd=mini_repo)
    assert r.code == 1 and "--allow-mass-revocation" in r.err and "revokes or lowers 2 grants" in r.err
    assert cli("apply", "--env", "test", "--yes", "--allow-mass-revocation", *AT, cwd=mini_repo).code == 0


@pytest.mark.parametrize("change", ["role", "site", "fraction"])
def test_mass_revocation_counted_on_effective_permissions(mini_repo, cli, change):
    if change == "fraction":
        set_safety(mini_repo, "test", "{max_revocation_fraction: 0.3}")
    else:
        set_safety(mini_repo, "test", "{max_revocations: 1}")
    if change != "site":  # two people hold the custom role crc_safety
        edit(mini_repo, "studies/heart.yaml", "role: crc,", "role: crc_safety,")
        edit(mini_repo, "studies/heart.yaml", "user: mona.mon, role: safety_monitor",
             "user: mona.mon, role: crc_safety, environments: all, sites: [BOS]} #")
    applied(mini_repo, cli)
    if change == "role" or change == "fraction":  # one role line lowers two people's access
        edit(mini_repo, "studies/heart.yaml", "crc_safety: {base: crc, tags: {safety: edit}}", "crc_safety: {base: crc, tags: {safety: read}}")
    else:  # dropping a site takes it from everyone granted all sites
        edit(mini_repo, "studies/heart.yaml", "sites: [BOS, NYC, LYON]", "sites: [BOS, NYC]")
    plan = cli("plan", "--env", "test", "--json", *AT, cwd=mini_repo).json
    assert [b["code"] for b in plan["brakes"]] == ["mass-revocation"], plan["brakes"]
    assert cli("apply", "--env", "test", "--yes", *AT, cwd=mini_repo).code == 1


def test_data_manager_floor_in_a_protected_environment(mini_repo, cli):
    applied(mini_repo, cli, "production")
    edit(mini_repo, "groups/staff.yaml", "name: Dina Manager}", "name: Dina Manager, status: deactivated}")
    r = cli("plan", "--env", "production", "--out", "p2.plan", *AT, cwd=mini_repo)
    assert r.code == 2 and "data-manager-floor" in r.out and "HEART-01 would keep 0 people" in r.out
    r = cli("apply", "p2.plan", cwd=mini_repo)
    assert r.code == 1 and "min_data_managers is 1" in r.err, r
    assert json.loads((mini_repo / ".edcconf/state/production.json").read_text())["serial"] == 1


def test_no_floor_by_default_in_unprotected_environments(mini_repo, cli):
    applied(mini_repo, cli)
    edit(mini_repo, "studies/heart.yaml", "    - {user: dina.dm, role: data_manager, environments: all, sites: all}\n", "")
    assert cli("apply", "--env", "test", "--yes", *AT, cwd=mini_repo).code == 0
