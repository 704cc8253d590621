"""Partial plans (`plan`/`apply` with --study and --target, as Terraform's -target): only the selected
changes and what they need are shown and applied; everything else stays pending and recorded as it was."""

import json

import pytest

from tests.cli.test_saved_plans_and_brakes import applied, nothing_applied, rewrite, set_safety
from tests.conftest import run_cli
from tests.helpers import edit


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


def state_of(root, env="test"):
    return json.loads((root / f".edcconf/state/{env}.json").read_text())


def last_outcome(root, env="test"):
    entries = [json.loads(x) for x in (root / f".edcconf/audit/{env}.jsonl").read_text().splitlines()]
    return [e for e in entries if e["event"] in ("apply", "apply-failed")][-1]


def addresses(plan_json):
    return {f"{c['kind']}.{c['key']}" for c in plan_json["changes"]}


def test_a_study_plan_is_its_changes_and_what_they_need_and_says_so_everywhere(example_repo, cli):
    full = cli("plan", "--env", "test", "--json", cwd=example_repo).json
    r = cli("plan", "--env", "test", "--study", "CARDIO-01", "--json", cwd=example_repo)
    assert r.code == 2, r
    part = r.json
    assert part["format_version"] == full["format_version"] == 1 and "partial" not in full
    info = part["partial"]
    assert info["studies"] == ["CARDIO-01"] and info["targets"] == []
    cardio = {f"{c['kind']}.{c['key']}" for c in full["changes"] if c["key"].split("/")[0] == "CARDIO-01"}
    assert cardio <= addresses(part)  # every change of the study
    assert addresses(part) == cardio | set(info["dependencies"])  # and only what they need
    assert "account.li.wei" in info["dependencies"] and "account.sam.okafor" not in addresses(part)
    assert info["dependencies"]["account.li.wei"] == ["grant.CARDIO-01/li.wei"]
    assert info["not_applied"] == len(full["changes"]) - len(part["changes"]) > 0
    assert part["summary"]["add"] == len(part["changes"])
    assert "partial plan" in r.err.lower() and f"{info['not_applied']} other changes" in r.err

    text = cli("plan", "--env", "test", "--study", "CARDIO-01", cwd=example_repo)
    lines = text.out.strip().splitlines()
    banner = (
        f"Partial plan: only the changes selected by --study CARDIO-01 and those they need; "
        f"{info['not_applied']} other changes are not shown and will not be applied"
    )
    assert lines[0].startswith(banner) and lines[-1].startswith(banner), text.out
    assert "needed by: grant.CARDIO-01/li.wei" in text.out and "# Study NEURO-02" not in text.out
    md = cli("plan", "--env", "test", "--study", "CARDIO-01", "--format", "markdown", cwd=example_repo)
    assert md.code == 2 and f"> {banner}" in md.out and "<b>Study NEURO-02</b>" not in md.out, md.out
    assert "needed by: grant.CARDIO-01/li.wei" in md.out
    import html

    page = cli("plan", "--env", "test", "--study", "CARDIO-01", "--format", "html", cwd=example_repo)
    assert page.code == 2 and 'data-partial="1"' in page.out and html.escape(banner) in page.out
    assert 'data-study="NEURO-02"' not in page.out


def test_a_target_brings_what_it_needs_and_nothing_else(example_repo, cli):
    r = cli("plan", "--env", "test", "--target", "grant.CARDIO-01/li.wei", "--json", cwd=example_repo)
    assert r.code == 2, r
    assert addresses(r.json) == {
        "grant.CARDIO-01/li.wei",
        "account.li.wei",
        "group.study-staff",
        "study.CARDIO-01",
        "site.UCSF",
        "site.MGH",
        "site.CHU-LYON",
        "account.edc.admin",
        "group.edc-team",
    }
    deps = r.json["partial"]["dependencies"]
    assert deps["account.li.wei"] == ["grant.CARDIO-01/li.wei"] and deps["group.study-staff"] == ["account.li.wei"]
    assert deps["account.edc.admin"] == ["study.CARDIO-01"]  # the study's admin
    # a prefix, and several selections at once
    r = cli(
        "plan",
        "--env",
        "test",
        "--target",
        "grant.NEURO-02/*",
        "--target",
        "account.tom.hart",
        "--json",
        cwd=example_repo,
    )
    grants = {a for a in addresses(r.json) if a.startswith("grant.")}
    assert grants == {
        "grant.NEURO-02/ingrid.berg",
        "grant.NEURO-02/paul.girard",
        "grant.NEURO-02/claire.martin",
        "grant.NEURO-02/sam.okafor",
        "grant.NEURO-02/ann.lee",
    }
    assert "account.tom.hart" in addresses(r.json) and "grant.CARDIO-01/tom.hart" not in addresses(r.json)


def test_taking_away_brings_what_stops_using_it(mini_repo, cli):
    applied(mini_repo, cli)
    edit(mini_repo, "groups/staff.yaml", "name: Cara Coordinator}", "name: Cara Coordinator, status: deactivated}")
    edit(
        mini_repo,
        "studies/heart.yaml",
        "role: investigator, environments: all, sites: [BOS, NYC]",
        "role: investigator, environments: all, sites: [BOS]",
    )
    r = cli("plan", "--env", "test", "--target", "account.cara.crc", "--json", cwd=mini_repo)
    assert r.code == 2, r
    assert addresses(r.json) == {"account.cara.crc", "grant.HEART-01/cara.crc"}, r.json["changes"]
    assert r.json["partial"]["dependencies"] == {"grant.HEART-01/cara.crc": ["account.cara.crc"]}
    assert r.json["partial"]["not_applied"] == 1  # ivan.inv's lowered grant


def test_apply_of_a_selection_changes_only_it_and_leaves_the_rest_pending(example_repo, cli):
    assert cli("apply", "--env", "test", "--yes", cwd=example_repo).code == 0
    before = state_of(example_repo)
    edit(
        example_repo,
        "studies/cardio-01.yaml",
        "{user: li.wei, role: crc, environments: all, sites: [UCSF]}",
        "{user: li.wei, role: crc, environments: all, sites: [UCSF, CHU-LYON]}",
    )
    edit(
        example_repo,
        "studies/neuro-02.yaml",
        "    - {user: claire.martin, role: crc, environments: all, sites: [CHU-LYON]}\n",
        "",
    )  # lines below move up
    edit(example_repo, "groups/study-staff.yaml", "name: Paul Girard,", "name: Paul Girard-Roux,")
    r = cli("apply", "--env", "test", "--study", "CARDIO-01", "--yes", cwd=example_repo)
    assert r.code == 0 and "Apply complete: 1 changes applied to test" in r.out, r
    assert "Partial apply (--study CARDIO-01): 2 other changes are still pending" in r.out
    assert "Partial plan" in r.err
    after = state_of(example_repo)
    assert after["serial"] == before["serial"] + 1
    changed = "CARDIO-01/li.wei"
    assert after["effective"]["grants"][changed]["sites"] == ["CHU-LYON", "UCSF"]
    for section, entries in before["effective"].items():
        others = {k: v for k, v in entries.items() if not (section == "grants" and k == changed)}
        now = {k: v for k, v in after["effective"][section].items() if not (section == "grants" and k == changed)}
        assert now == others, section  # every other recorded thing exactly as it was
    assert {k: v for k, v in after["sources"].items() if k != f"grant:{changed}"} == {
        k: v for k, v in before["sources"].items() if k != f"grant:{changed}"
    }  # NEURO-02's moved lines too
    outcome = last_outcome(example_repo)
    assert outcome["partial"] == {"studies": ["CARDIO-01"], "targets": [], "dependencies": 0, "not_applied": 2}
    rest = cli("plan", "--env", "test", "--json", cwd=example_repo).json
    assert addresses(rest) == {"grant.NEURO-02/claire.martin", "account.paul.girard"} and "partial" not in rest
    assert cli("apply", "--env", "test", "--yes", cwd=example_repo).code == 0
    assert "partial" not in last_outcome(example_repo)
    assert cli("plan", "--env", "test", cwd=example_repo).code == 0


def test_a_saved_partial_plan_applies_only_its_part_and_keeps_its_selection(mini_repo, cli):
    r = cli("plan", "--env", "production", "--target", "grant.HEART-01/dina.dm", "--out", "p.plan", cwd=mini_repo)
    assert r.code == 2 and "Saved this partial plan to p.plan" in r.out, r
    shown = cli("show", "p.plan", "--json", cwd=mini_repo).json
    assert shown["partial"]["targets"] == ["grant.HEART-01/dina.dm"]
    assert (
        "Partial plan: only the changes selected by --target grant.HEART-01/dina.dm"
        in cli("show", "p.plan", cwd=mini_repo).out
    )
    for other in (["--study", "HEART-01"], ["--target", "grant.HEART-01/dina.dm"]):
        r = cli("apply", "p.plan", *other, cwd=mini_repo)
        assert r.code == 1 and "a saved plan's selection cannot be changed" in r.err, r
    assert nothing_applied(mini_repo, "production")

    def widened(data):  # the selection edited, the changes left as they were: planning again tells
        data["partial"]["targets"] = ["grant.HEART-01/*"]

    rewrite(mini_repo, "p.plan", widened)
    r = cli("apply", "p.plan", cwd=mini_repo)
    assert r.code == 1 and "is not the plan that the configuration and state it names give" in r.err, r
    assert "the file lacks create grant HEART-01/cara.crc" in r.err and nothing_applied(mini_repo, "production")
    assert cli("apply", "p.plan", "--json", cwd=mini_repo).json["errors"][0]["code"] == "plan-mismatch"

    r = cli("plan", "--env", "production", "--target", "grant.HEART-01/dina.dm", "--out", "p.plan", cwd=mini_repo)
    r = cli("apply", "p.plan", cwd=mini_repo)  # protected production takes a reviewed partial plan, with a warning
    assert r.code == 0 and "Apply complete: 7 changes applied to production" in r.out, r
    assert "Partial plan" in r.err
    assert set(state_of(mini_repo, "production")["effective"]["grants"]) == {"HEART-01/dina.dm"}
    assert last_outcome(mini_repo, "production")["partial"]["targets"] == ["grant.HEART-01/dina.dm"]
    rest = cli("plan", "--env", "production", "--json", cwd=mini_repo).json
    assert {c["key"] for c in rest["changes"] if c["kind"] == "grant"} == {
        "HEART-01/cara.crc",
        "HEART-01/ivan.inv",
        "HEART-01/mona.mon",
        "HEART-01/vera.view",
    }
    r = cli("apply", "--env", "production", "--study", "HEART-01", "--yes", cwd=mini_repo)
    assert r.code == 1 and "production is protected" in r.err  # as any apply --env of it


def test_unknown_studies_and_addresses_are_refused_with_a_suggestion(mini_repo, cli):
    r = cli("plan", "--env", "test", "--study", "HEART-1", cwd=mini_repo)
    assert r.code == 1 and "unknown study 'HEART-1'" in r.err and "did you mean 'HEART-01'?" in r.err, r
    r = cli("apply", "--env", "test", "--target", "grant.HEART-01/cara.cr", "--yes", "--json", cwd=mini_repo)
    assert r.code == 1 and r.json["errors"][0]["code"] == "unknown-target", r
    assert "did you mean 'grant.HEART-01/cara.crc'?" in r.json["errors"][0]["message"]
    r = cli("plan", "--env", "test", "--target", "grant.NOPE-*", cwd=mini_repo)
    assert r.code == 1 and "unknown address 'grant.NOPE-*'" in r.err, r
    for bad, said in (
        ("cara.crc", "is not an address: write KIND.KEY"),
        ("role.HEART-01/crc", "a role version"),
        ("environment.test", "never part of a partial plan"),
    ):
        r = cli("plan", "--env", "test", "--target", bad, cwd=mini_repo)
        assert r.code == 1 and said in r.err and "Traceback" not in r.err, r
    r = cli("plan", "--env", "test", "--target", "grant.HEART-01/vera.view", cwd=mini_repo)  # production only
    assert r.code == 1 and "neither declared for test" not in r.err and "unknown address" in r.err, r
    assert nothing_applied(mini_repo)


def test_brakes_are_counted_on_the_changes_that_will_be_applied(mini_repo, cli):
    set_safety(mini_repo, "test", "{max_revocations: 1}")
    applied(mini_repo, cli)
    edit(mini_repo, "studies/heart.yaml", "    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: ivan.inv, role: investigator, environments: all, sites: [BOS, NYC]}\n",
        "",
    )
    full = cli("plan", "--env", "test", "--json", cwd=mini_repo).json
    assert [b["code"] for b in full["brakes"]] == ["mass-revocation"]
    one = cli("plan", "--env", "test", "--target", "grant.HEART-01/cara.crc", "--json", cwd=mini_repo).json
    assert one["brakes"] == [] and addresses(one) == {"grant.HEART-01/cara.crc"}
    assert cli("apply", "--env", "test", "--target", "grant.HEART-01/cara.crc", "--yes", cwd=mini_repo).code == 0
    assert addresses(cli("plan", "--env", "test", "--json", cwd=mini_repo).json) == {"grant.HEART-01/ivan.inv"}
    # the other way round: a selection may lack what makes the full plan safe
    full = cli("plan", "--env", "production", "--json", cwd=mini_repo).json
    assert full["brakes"] == []
    part = cli(
        "plan", "--env", "production", "--target", "grant.HEART-01/mona.mon", "--out", "p.plan", "--json", cwd=mini_repo
    ).json
    assert [b["code"] for b in part["brakes"]] == ["data-manager-floor"], part["brakes"]  # the study, no manager
    r = cli("apply", "p.plan", cwd=mini_repo)
    assert r.code == 1 and "min_data_managers is 1" in r.err, r
    assert not (mini_repo / ".edcconf/state/production.json").exists()


def test_the_environment_change_is_never_part_of_a_partial_plan(mini_repo, cli):
    applied(mini_repo, cli)
    set_safety(mini_repo, "test", "{max_revocations: 3}")
    edit(
        mini_repo,
        "studies/heart.yaml",
        "{user: cara.crc, role: crc, environments: all, sites: [BOS]}",
        "{user: cara.crc, role: crc, environments: all, sites: [BOS, NYC]}",
    )
    full = cli("plan", "--env", "test", "--json", cwd=mini_repo).json
    assert [c["kind"] for c in full["changes"]] == ["environment", "grant"]
    r = cli("plan", "--env", "test", "--study", "HEART-01", cwd=mini_repo)
    assert r.code == 2 and "~ environment test" not in r.out.split("\n", 2)[2].split("Plan:")[0], r.out
    assert (
        "The pending change of test's protection and safety (~ environment test) is not part of a partial "
        "plan" in r.out.splitlines()[0]
    )
    part = cli("plan", "--env", "test", "--study", "HEART-01", "--json", cwd=mini_repo).json
    assert part["partial"]["environment_change_excluded"] is True and addresses(part) == {"grant.HEART-01/cara.crc"}
    assert cli("apply", "--env", "test", "--study", "HEART-01", "--yes", cwd=mini_repo).code == 0
    guards = state_of(mini_repo)["effective"]["environment"]["test"]
    assert guards["safety"]["max_revocations"] == 25  # as applied before: the change is still pending
    assert addresses(cli("plan", "--env", "test", "--json", cwd=mini_repo).json) == {"environment.test"}


def test_an_empty_selection_is_no_changes(mini_repo, cli):
    applied(mini_repo, cli)
    edit(mini_repo, "groups/staff.yaml", "name: Cara Coordinator}", "name: Cara Coordinator-Smith}")
    r = cli("plan", "--env", "test", "--target", "grant.HEART-01/dina.dm", cwd=mini_repo)
    assert r.code == 0 and "No changes in this selection" in r.out and "1 other change is not shown" in r.out, r


def test_study_values_are_completed(mini_repo):
    from tests.cli.test_completion import _complete

    assert _complete(mini_repo, "plan", "--env", "test", "--study", "H") == ["HEART-01"]
    assert _complete(mini_repo, "apply", "--env", "test", "--study", "") == ["HEART-01"]
