"""One organisation that uses what the source documents ask for, end to end through the CLI: roles per site
(001/003), ceilings enforced at assignment (002/004), the external-user process (000: a PI as requester,
an agreement that starts access later, non-research approval with PHI protections, sponsor expiry) and
compliance alerts (004). It plans, applies and reports as the rule book says."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, write


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


D1 = "2026-12-01"


def organisation(root) -> None:
    write(
        root,
        "groups/edc-team.yaml",
        """\
        group:
          id: edc-team
          ceiling: {unnamed: unlimited}
          members:
            - {username: ada.admin, email: ada@hospital.example.org, name: Ada Admin, type: admin}
        """,
    )
    write(
        root,
        "groups/external.yaml",
        """\
        group:
          id: external
          ceiling: {form_access: review, contact_data: none, data_export: none, user_rights: none, api: none}
          members:
            - username: eve.cro
              email: eve@cro.example.com
              name: Eve CRO
              external: {organization: Acme CRO, agreement_signed: 2026-01-15, basis: protocol, requested_by: ivan.inv}
            - username: fay.later
              email: fay@cro.example.com
              name: Fay Later
              external: {organization: Acme CRO, agreement_signed: 2027-02-01, basis: protocol, requested_by: ivan.inv}
            - username: quinn.qi
              email: quinn@audit.example.org
              name: Quinn Qi
              external:
                organization: QI Audit
                agreement_signed: 2026-02-01
                basis: non-research
                justification: Quality-improvement audit of 2026 admissions
                approved_by: ada.admin
                phi_protections: SOP-QI-12
            - username: sam.sponsor
              email: sam@pharma.example.com
              name: Sam Sponsor
              expires: 2026-12-31
              external: {organization: Pharma, agreement_signed: 2026-03-01, basis: sponsor, requested_by: ivan.inv}
        """,
    )
    path = root / "studies" / "heart.yaml"
    text = path.read_text().replace(
        "protocol: {irb: IRB-2026-001, pi: ivan.inv}",
        "protocol: {irb: IRB-2026-001, pi: ivan.inv, staff: [eve.cro, fay.later]}",
    )
    path.write_text(
        text
        + "    - {user: cara.crc, role: monitor, environments: all, sites: [NYC]}\n"  # roles per site
        + "    - {user: eve.cro, role: monitor, environments: all, sites: [LYON]}\n"
        + "    - {user: fay.later, role: monitor, environments: all, sites: [LYON]}\n"
        + "    - {user: quinn.qi, role: viewer, environments: [test], sites: all}\n"
        + "    - {user: sam.sponsor, role: viewer, environments: [test], sites: all}\n"
    )


def test_the_organisation_plans_applies_and_reports(mini_repo, cli):
    organisation(mini_repo)
    assert cli("validate", cwd=mini_repo).code == 0

    plan = cli("plan", "--env", "test", "--json", "--at", D1, cwd=mini_repo)
    assert plan.code == 2, plan
    grants = {c["key"]: c["after"] for c in plan.json["changes"] if c["kind"] == "grant"}
    # 1: one grant per role, each with its sites; the first keeps the plain key
    assert (grants["HEART-01/cara.crc"]["role"], grants["HEART-01/cara.crc"]["sites"]) == ("crc", ["BOS"])
    assert (grants["HEART-01/cara.crc/monitor"]["role"], grants["HEART-01/cara.crc/monitor"]["sites"]) == (
        "monitor",
        ["NYC"],
    )
    # 7, 9, 10: a PI's request, an approved non-research account, a sponsor with an expiry all get access
    assert {"HEART-01/eve.cro", "HEART-01/quinn.qi", "HEART-01/sam.sponsor"} <= set(grants)
    assert grants["HEART-01/sam.sponsor"]["expires"] == "2026-12-31"
    # 8: no access before the agreement; the plan says when it starts
    assert "HEART-01/fay.later" not in grants
    assert any(w["code"] == "external-access-not-yet" and "2027-02-01" in w["message"] for w in plan.json["warnings"])
    later = cli("plan", "--env", "test", "--json", "--at", "2027-02-02", cwd=mini_repo)
    assert "HEART-01/fay.later" in {c["key"] for c in later.json["changes"]}

    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    notices = sorted(p.name for p in (mini_repo / "build" / "test" / "notifications").rglob("*.txt"))
    assert any(n.startswith("ivan.inv-external_account-eve") for n in notices)  # the PI hears of eve's account

    # 3: lower eve's group's ceiling, then an unrelated change: the plan goes on and warns; compliance lists it
    external = mini_repo / "groups" / "external.yaml"
    external.write_text(external.read_text().replace("ceiling: {form_access: review,", "ceiling: {form_access: read,"))
    study = mini_repo / "studies" / "heart.yaml"
    study.write_text(
        study.read_text().replace(
            "{user: dina.dm, role: data_manager, environments: all, sites: all}",
            "{user: dina.dm, role: data_manager, environments: all, sites: all, expires: 2027-06-30}",
        )
    )
    kept = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert kept.code == 2, kept
    noncompliant = {w["details"]["key"] for w in kept.json["warnings"] if w["code"] == "ceiling-noncompliant"}
    assert "HEART-01/eve.cro" in noncompliant
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    report = cli("compliance", "--env", "test", "--json", cwd=mini_repo).json
    assert "eve.cro" in {p["user"] for p in report["reports"]["pairs_non_expired"]}
    #    changing that grant must comply
    study.write_text(
        study.read_text().replace(
            "{user: eve.cro, role: monitor, environments: all, sites: [LYON]}",
            "{user: eve.cro, role: monitor, environments: all, sites: [LYON, NYC]}",
        )
    )
    refused = cli("plan", "--env", "test", "--json", cwd=mini_repo)
    assert refused.code == 1 and [e["code"] for e in refused.json["errors"]] == ["ceiling-exceeded"]
    study.write_text(study.read_text().replace("sites: [LYON, NYC]}", "sites: [LYON]}"))

    # 12: the SAG module's alerts, to the user and to the study's User Rights holders, logged
    sent = cli("compliance", "alert", "--env", "test", "--json", cwd=mini_repo)
    assert sent.code == 0, sent
    about_eve = [(a["kind"], a["to"]) for a in sent.json["alerts"] if "eve.cro" in a["about"]]
    assert ("user_alert", "eve.cro") in about_eve and any(kind == "rights_holders_alert" for kind, _ in about_eve)
    logged = cli("compliance", "alerts", "--env", "test", "--json", cwd=mini_repo).json["alerts"]
    assert {a["to"] for a in logged} >= {"eve.cro"}
    again = cli("compliance", "alert", "--env", "test", "--json", cwd=mini_repo).json
    assert not [a for a in again["alerts"] if "eve.cro" in a["about"]]  # the reminder interval holds
