"""References and policy: each rule fails with its own code at the file:line that must change."""

from datetime import date

import pytest

from edcconf.diagnostics import UserError
from edcconf.pipeline import load_desired
from tests.conftest import write
from tests.helpers import edit

TODAY = date(2026, 11, 24)


def problems(root):
    """The errors, with the ceiling-exceeded error of each grant above its ceiling (the plan refuses it
    when it adds or changes the grant; these repositories have no state, so every grant is added)."""
    try:
        desired = load_desired(root, TODAY)
    except UserError as exc:
        return [(d.code, str(d.loc), d.message) for d in exc.diagnostics.errors]
    above = {d for env in desired.resolution.ceilings.values() for d, _ in env.values()}
    return [
        (d.code, str(d.loc), d.message) for d in desired.diagnostics.errors + sorted(above, key=lambda d: d.sort_key())
    ]


def test_the_fixture_is_clean(mini_repo):
    assert problems(mini_repo) == []


def test_unknown_user_with_suggestion(mini_repo):
    edit(mini_repo, "studies/heart.yaml", "user: mona.mon", "user: mona.mom")
    (p,) = problems(mini_repo)
    assert p[:2] == ("unknown-reference", "studies/heart.yaml:20") and "did you mean 'mona.mon'" in p[2]


@pytest.mark.parametrize(
    "old,new,line,needle",
    [
        ("role: crc,", "role: cr,", 18, "unknown role 'cr'"),
        ("sites: [BOS]}", "sites: [BOZ]}", 18, "did you mean 'BOS'"),
        ("environments: [production]", "environments: [prod]", 22, "unknown environment 'prod'"),
        ("tags: [safety]}", "tags: [safty]}", 12, "unknown tag 'safty'"),
        ("base: monitor", "base: moniter", 15, "did you mean 'monitor'"),
        ("pi: ivan.inv", "pi: ivan.in", 5, "in the protocol"),
    ],
)
def test_unknown_references(mini_repo, old, new, line, needle):
    edit(mini_repo, "studies/heart.yaml", old, new)
    found = problems(mini_repo)
    assert any(
        c == "unknown-reference" and loc == f"studies/heart.yaml:{line}" and needle in m for c, loc, m in found
    ), found


def test_username_duplicate_ignoring_case_across_files(mini_repo):
    write(
        mini_repo,
        "groups/more.yaml",
        """\
        group:
          id: more
          members:
            - {username: Cara.CRC, email: other@hospital.example.org, name: Other}
        """,
    )
    (p,) = problems(mini_repo)
    # files are read in path order, so groups/more.yaml comes first and staff.yaml holds the duplicate
    assert p[0] == "duplicate-id" and p[1] == "groups/staff.yaml:6" and "groups/more.yaml:4" in p[2]


def test_person_granted_one_role_twice_in_one_environment(mini_repo):
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: dina.dm,",
        "    - {user: cara.crc, role: crc, environments: [test], sites: [NYC]}\n    - {user: dina.dm,",
    )
    found = problems(mini_repo)
    assert [c for c, *_ in found] == ["duplicate-id"] and "granted crc twice" in found[0][2]


def test_a_different_role_at_each_site_has_a_grant_per_role(mini_repo):
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: dina.dm,",
        "    - {user: cara.crc, role: monitor, environments: [test], sites: [NYC]}\n    - {user: dina.dm,",
    )
    desired = load_desired(mini_repo, TODAY)
    assert desired.diagnostics.errors == []
    test = desired.resolution.environments["test"].state["grants"]
    # the first grant keeps its key: adding a role at another site changes no applied grant
    assert (test["HEART-01/cara.crc"]["sites"], test["HEART-01/cara.crc/monitor"]["sites"]) == (["BOS"], ["NYC"])
    production = desired.resolution.environments["production"].state["grants"]
    assert production["HEART-01/cara.crc"]["role"] == "crc" and "HEART-01/cara.crc/monitor" not in production
    assert "HEART-01/ivan.inv" in test and "HEART-01/dina.dm" in test


def test_a_different_role_per_environment_keeps_one_key(mini_repo):
    edit(
        mini_repo,
        "studies/heart.yaml",
        "    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}",
        "    - {user: cara.crc, role: crc, environments: [test], sites: [BOS]}\n"
        "    - {user: cara.crc, role: monitor, environments: [production], sites: [BOS]}",
    )
    desired = load_desired(mini_repo, TODAY)
    assert desired.diagnostics.errors == []
    assert desired.resolution.environments["production"].state["grants"]["HEART-01/cara.crc"]["role"] == "monitor"


def test_ceiling_lists_each_right_and_the_group_message(mini_repo):
    write(
        mini_repo,
        "groups/readers.yaml",
        """\
        group:
          id: readers
          ceiling: {form_access: read, contact_data: none, data_export: none}
          message: Complete the data-entry training first (policy EDC-7).
          members:
            - {username: rhea.read, email: rhea@hospital.example.org, name: Rhea Reader}
        """,
    )
    edit(
        mini_repo,
        "studies/heart.yaml",
        "  access:\n",
        "  access:\n    - {user: rhea.read, role: data_manager, sites: all}\n",
    )
    (p,) = problems(mini_repo)
    assert p[0] == "ceiling-exceeded" and p[1] == "studies/heart.yaml:18"
    assert "form_access edit (allowed read)" in p[2] and "data_export full (allowed none)" in p[2]
    # fail closed: the ceiling does not name user_rights, so it allows none, and the message says why
    assert "user_rights full (allowed none)" in p[2] and "does not name user_rights" in p[2]
    assert p[2].endswith("(policy EDC-7).")


def test_no_rights_group_may_be_granted_nothing(mini_repo):
    write(
        mini_repo,
        "groups/none.yaml",
        """\
        group:
          id: no-rights
          members:
            - {username: nia.none, email: nia@hospital.example.org, name: Nia None}
        """,
    )
    edit(
        mini_repo, "studies/heart.yaml", "  access:\n", "  access:\n    - {user: nia.none, role: viewer, sites: all}\n"
    )
    (p,) = problems(mini_repo)
    assert p[0] == "ceiling-exceeded" and "form_access read (allowed none)" in p[2]


@pytest.mark.parametrize(
    "ext,codes",
    [
        ("{organization: Acme, basis: sponsor}", {"external-without-agreement", "external-sponsor-without-expiry"}),
        (
            "{organization: Acme, agreement_signed: 2026-01-01, basis: non-research, approved_by: dina.dm}",
            {"external-justification-missing", "external-approver-not-admin", "external-phi-protections-missing"},
        ),
        (
            "{organization: Acme, agreement_signed: 2026-01-01, basis: protocol, requested_by: ivan.inv}",
            {"external-not-on-protocol"},
        ),
        (
            "{organization: Acme, agreement_signed: 2026-01-01, basis: protocol}",
            {"external-not-on-protocol", "external-requester-missing"},
        ),
    ],
)
def test_external_people(mini_repo, ext, codes):
    write(
        mini_repo,
        "groups/ext.yaml",
        f"""\
        group:
          id: ext
          members:
            - {{username: eve.ext, email: eve@cro.example.com, name: Eve, external: {ext}}}
        """,
    )
    edit(
        mini_repo, "studies/heart.yaml", "  access:\n", "  access:\n    - {user: eve.ext, role: monitor, sites: all}\n"
    )
    found = [c for c, *_ in problems(mini_repo)]
    assert set(found) == codes and len(found) == len(codes)


def _external(mini_repo, ext: str, grant: str = "{user: eve.ext, role: monitor, sites: all}"):
    write(
        mini_repo,
        "groups/ext.yaml",
        f"""\
        group:
          id: ext
          ceiling: {{form_access: review}}
          members:
            - {{username: eve.ext, email: eve@cro.example.com, name: Eve,
               external: {ext}}}
            - {{username: ada.admin, email: ada@hospital.example.org, name: Ada, type: admin}}
        """,
    )
    edit(mini_repo, "studies/heart.yaml", "  access:\n", f"  access:\n    - {grant}\n")


def test_external_on_protocol_is_fine(mini_repo):
    _external(mini_repo, "{organization: Acme, agreement_signed: 2026-01-01, basis: protocol, requested_by: ivan.inv}")
    edit(mini_repo, "studies/heart.yaml", "pi: ivan.inv}", "pi: ivan.inv, staff: [eve.ext]}")
    assert problems(mini_repo) == []


def test_requester_must_be_pi_or_co_pi_of_every_study_granting_access(mini_repo):
    _external(mini_repo, "{organization: Acme, agreement_signed: 2026-01-01, basis: protocol, requested_by: vera.view}")
    edit(mini_repo, "studies/heart.yaml", "pi: ivan.inv}", "pi: ivan.inv, staff: [eve.ext]}")
    (p,) = problems(mini_repo)
    assert p[0] == "external-requester-not-pi" and p[1] == "groups/ext.yaml:6"
    assert "vera.view" in p[2] and "HEART-01" in p[2] and "PI ivan.inv" in p[2]
    # a Co-PI may request it
    edit(mini_repo, "studies/heart.yaml", "pi: ivan.inv, staff", "pi: ivan.inv, co_pis: [vera.view], staff")
    assert problems(mini_repo) == []
    # ...but on every study that grants access: a second study whose PI is someone else
    write(
        mini_repo,
        "studies/lung.yaml",
        """\
        study:
          id: LUNG-02
          name: Lung
          system: openclinica
          protocol: {irb: IRB-2026-002, pi: ivan.inv, staff: [eve.ext]}
          environments: [test]
          sites: [BOS]
          participant_id_template: "${siteId}-${siteParticipantCount}"
          forms: [{id: f1}]
          access:
            - {user: eve.ext, role: monitor, sites: all}
        """,
    )
    (p,) = problems(mini_repo)
    assert p[0] == "external-requester-not-pi" and "LUNG-02" in p[2]


def test_non_research_needs_an_admin_approval_and_phi_protections(mini_repo):
    ext = "{organization: QI team, agreement_signed: 2026-01-01, basis: non-research, justification: QI audit%s}"
    _external(mini_repo, ext % "")
    assert sorted(c for c, *_ in problems(mini_repo)) == [
        "external-approval-missing",
        "external-phi-protections-missing",
    ]
    edit(mini_repo, "groups/ext.yaml", "QI audit}", "QI audit, approved_by: ada.admin}")
    assert [c for c, *_ in problems(mini_repo)] == ["external-phi-protections-missing"]
    edit(mini_repo, "groups/ext.yaml", "ada.admin}", "ada.admin, phi_protections: 'SOP-QI-12 (training, rights)'}")
    assert problems(mini_repo) == []
    # without contact forms the study collects no PHI unless it says so
    edit(mini_repo, "groups/ext.yaml", ", phi_protections: 'SOP-QI-12 (training, rights)'", "")
    edit(mini_repo, "studies/heart.yaml", "{id: contact_info, contact_data: true}", "{id: contact_info}")
    assert problems(mini_repo) == []
    edit(
        mini_repo,
        "studies/heart.yaml",
        "  sites: [BOS, NYC, LYON]\n",
        "  sites: [BOS, NYC, LYON]\n  collects_phi: true\n",
    )
    assert [c for c, *_ in problems(mini_repo)] == ["external-phi-protections-missing"]


def test_sponsor_access_expires(mini_repo):
    _external(mini_repo, "{organization: Pharma, agreement_signed: 2026-01-01, basis: sponsor, requested_by: ivan.inv}")
    (p,) = problems(mini_repo)
    assert p[0] == "external-sponsor-without-expiry" and "HEART-01" in p[2]
    # an expiry on every grant is enough
    edit(
        mini_repo,
        "studies/heart.yaml",
        "{user: eve.ext, role: monitor, sites: all}",
        "{user: eve.ext, role: monitor, sites: all, expires: 2026-06-30}",
    )
    assert problems(mini_repo) == []


def test_admin_never_on_a_site_but_study_wide_is_fine(mini_repo):
    edit(mini_repo, "groups/staff.yaml", "name: Dina Manager}", "name: Dina Manager, type: admin}")
    assert problems(mini_repo) == []
    edit(mini_repo, "groups/staff.yaml", "name: Cara Coordinator}", "name: Cara Coordinator, type: admin}")
    (p,) = problems(mini_repo)
    assert p[:2] == ("admin-site-grant", "studies/heart.yaml:18")


@pytest.mark.parametrize(
    "old,new,code",
    [
        (
            "user: cara.crc, role: crc, environments: all, sites: [BOS]",
            "user: cara.crc, role: crc, environments: all, sites: all",
            "role-level",
        ),
        (
            "user: dina.dm, role: data_manager, environments: all, sites: all",
            "user: dina.dm, role: data_manager, environments: all, sites: [BOS]",
            "role-level",
        ),
        ("id: HEART-01", "id: HEART-01-A-VERY-LONG-STUDY-IDENTIFIER", "study-id-too-long"),
        ("sites: [BOS, NYC, LYON]", "sites: []", "study-without-sites"),
    ],
)
def test_study_rules(mini_repo, old, new, code):
    edit(mini_repo, "studies/heart.yaml", old, new)
    assert code in [c for c, *_ in problems(mini_repo)]


@pytest.mark.parametrize(
    "template,expected",
    [
        ("${siteId}-${(siteParticipantCount+1)?string[000]}", []),
        ("P-${(helper.random(5))?string[00000]}", []),
        ("${siteId}-0001", ["participant-id-template"]),  # no counter, no random: every ID the same
        ("${siteId}/${siteParticipantCount}", ["participant-id-template"]),  # a slash in the static text
        (
            "${siteId}" + "A" * 240 + "${siteParticipantCount}",  # 271 characters > 255, and so is the ID
            ["participant-id-template", "participant-id-too-long"],
        ),
    ],
)
def test_participant_id_templates(mini_repo, template, expected):
    edit(mini_repo, "studies/heart.yaml", '"${siteId}-${(siteParticipantCount+1)?string[000]}"', f"'{template}'")
    codes = [c for c, *_ in problems(mini_repo)]
    assert codes == expected


def test_monitor_without_access_to_a_form_is_warned_about_hidden_queries(mini_repo):
    desired = load_desired(mini_repo, TODAY, ["test"])
    warned = {(d.code, str(d.loc)): d.message for d in desired.diagnostics.warnings}
    message = warned[("queries-hidden", "studies/heart.yaml:15")]
    assert "safety_monitor" in message and "contact_info" in message and "mona.mon" in message
    # near the boundary: once the role may read contact forms, its monitors see every form's queries
    edit(mini_repo, "studies/heart.yaml", "tags: {safety: review}}", "tags: {safety: review}, contact_forms: read}")
    desired = load_desired(mini_repo, TODAY, ["test"])
    assert not [d for d in desired.diagnostics.warnings if "safety_monitor" in d.message]


def test_a_vault_grant_listing_every_site_is_refused(example_repo):
    from edcconf.source import load_sources
    from edcconf.validate import validate

    study = example_repo / "studies" / "onc-04.yaml"
    text = study.read_text()
    study.write_text(
        text.replace(
            "{user: dina.park, role: lead_data_manager, environments: all, sites: all}",
            "{user: dina.park, role: lead_data_manager, environments: all, sites: [MGH, CHU-LYON, APHP, OUS]}",
        )
    )
    found = [d for d in validate(load_sources(example_repo)).diagnostics if d.code == "vault-all-sites-listed"]
    assert [(d.severity, d.loc.file, d.loc.line) for d in found] == [("error", "studies/onc-04.yaml", 17)]
    assert "dina.park" in found[0].message and "sites: all" in found[0].message
    assert "site-level" not in found[0].message  # lead_data_manager may have study access
