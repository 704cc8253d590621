"""source.writer: roles, a study's sites and new global sites, inserted as text like members and grants."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edcconf.diagnostics import UserError
from edcconf.imports import ImportResult, write_import
from edcconf.source import load_sources
from edcconf.source.writer import Edit, plan_edits, write_edits
from tests.conftest import run_edcconf, run_inprocess, write

NOTE = "Imported by edcconf import from REDCap project of DIAB-03 (production) on 2026-02-01"
RC_ROLE = {
    "base": "data_entry",
    "redcap": {"mobile_app": 1},
    "redcap_forms": {"demographics": {"view": 4, "export": 1}},
    "redcap_role": {"name": "U-527D39JXAC", "label": "Data Entry"},
}
RC_ROLE_TEXT = (
    "{base: data_entry, redcap: {mobile_app: 1}, redcap_forms: {demographics: {view: 4, export: 1}}, "
    "redcap_role: {name: U-527D39JXAC, label: Data Entry}}"
)
OSLO = {
    "id": "OUS-2",
    "name": "Oslo University Hospital, Ullevål",
    "country": "NO",
    "city": "Oslo",
    "timezone": "Europe/Oslo",
}


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def loaded(root: Path, rel: str):
    return next(f for f in load_sources(root).files if f.path == rel).data


def study(tmp_path: Path, text: str, rel: str = "studies/s1.yaml") -> Path:
    return write(tmp_path, rel, text)


def refused(root: Path, message: str, **kwargs) -> UserError:
    before = snapshot(root)
    with pytest.raises(UserError) as info:
        write_edits(root, plan_edits(root, **kwargs))
    assert info.value.code == "import-conflict", info.value.message
    assert message in info.value.message
    assert snapshot(root) == before
    return info.value


# --- roles -------------------------------------------------------------------------------------------


def test_roles_after_the_last_role_of_a_block_mapping_and_validate(example_repo: Path) -> None:
    path = example_repo / "studies/diab-03.yaml"
    before = path.read_text()
    grant = {"user": "ann.lee", "role": "data_entry_rc", "environments": ["test"], "sites": ["MGH"]}
    edits = plan_edits(
        example_repo,
        roles={"DIAB-03": {"data_entry_rc": RC_ROLE, "reader": {"base": "read_only"}}},
        grants={"DIAB-03": [grant]},
    )
    assert [e for e, _ in edits] == [Edit("studies/diab-03.yaml", "appended", "2 roles, 1 grant in study DIAB-03")]
    write_edits(example_repo, edits)
    last_role = "    safety_reader: {base: read_only, tags: {safety: read}}\n"
    assert path.read_text() == before.replace(
        last_role, last_role + (f"    data_entry_rc: {RC_ROLE_TEXT}\n    reader: {{base: read_only}}\n")
    ) + ("    - {user: ann.lee, role: data_entry_rc, environments: [test], sites: [MGH]}\n")
    data = loaded(example_repo, "studies/diab-03.yaml")["study"]
    assert data["roles"]["data_entry_rc"] == RC_ROLE
    assert list(data["roles"]) == ["coordinator", "safety_reader", "data_entry_rc", "reader"]
    code, out, err = run_inprocess(example_repo, "validate")
    assert code == 0, out + err


ROLES_BLOCK = """\
study:
  id: S-1
  roles:
    # a comment inside the mapping
    crc_plus:
      base: crc     # block style role
      tags: {safety: edit}
    # a comment after the last role

  access:
    - {user: a.one, role: crc}
"""


def test_roles_block_style_role_and_comments(tmp_path: Path) -> None:
    study(tmp_path, ROLES_BLOCK)
    write_edits(tmp_path, plan_edits(tmp_path, roles={"S-1": {"new": {"base": "monitor", "tags": {"safety": "read"}}}}))
    assert (tmp_path / "studies/s1.yaml").read_text() == ROLES_BLOCK.replace(
        "{safety: edit}\n", "{safety: edit}\n    new: {base: monitor, tags: {safety: read}}\n"
    )


@pytest.mark.parametrize(
    "layout, expected",
    [
        # no roles: before access, after the entry before it (the comment above access stays with it)
        (
            "study:\n  id: S-1\n  sites: [A]   # one\n\n  # who\n  access:\n    - {user: a, role: crc}\n",
            "study:\n  id: S-1\n  sites: [A]   # one\n  roles:\n    r1: {base: crc}\n\n  # who\n  access:\n"
            "    - {user: a, role: crc}\n",
        ),
        # no roles, no access: at the end of the study, before trailing comments
        (
            "study:\n    id: S-1\n    name: S\n# end\n",
            "study:\n    id: S-1\n    name: S\n    roles:\n      r1: {base: crc}\n# end\n",
        ),
        # access first
        ("study:\n  access: []\n  id: S-1\n", "study:\n  roles:\n    r1: {base: crc}\n  access: []\n  id: S-1\n"),
        # empty values
        (
            "study:\n  id: S-1\n  roles:\n  access: []\n",
            "study:\n  id: S-1\n  roles:\n    r1: {base: crc}\n  access: []\n",
        ),
        ("study:\n  id: S-1\n  roles: ~\n", "study:\n  id: S-1\n  roles:\n    r1: {base: crc}\n"),
        (
            "study:\n  id: S-1\n  roles: {}   # none yet\n  name: S\n",
            "study:\n  id: S-1\n  roles:    # none yet\n    r1: {base: crc}\n  name: S\n",
        ),
        # a study in a list of studies
        (
            "studies:\n  - id: S-0\n  - id: S-1\n    name: one\n  - id: S-2\n",
            "studies:\n  - id: S-0\n  - id: S-1\n    name: one\n    roles:\n      r1: {base: crc}\n  - id: S-2\n",
        ),
    ],
)
def test_roles_key_added_or_filled(tmp_path: Path, layout: str, expected: str) -> None:
    study(tmp_path, layout)
    edits = plan_edits(tmp_path, roles={"S-1": {"r1": {"base": "crc"}}})
    assert [e.what for e, _ in edits] == ["1 role in study S-1"]
    write_edits(tmp_path, edits)
    assert (tmp_path / "studies/s1.yaml").read_text() == expected


def test_role_conflicts_and_flow_roles_are_refused(tmp_path: Path, example_repo: Path) -> None:
    error = refused(
        example_repo,
        "role coordinator is already declared in study DIAB-03",
        roles={"DIAB-03": {"new_one": {"base": "crc"}, "coordinator": {"base": "crc"}}},
        grants={"CARDIO-01": [{"user": "ann.lee", "role": "crc"}]},
    )
    assert "studies/diab-03.yaml:" in error.message
    study(tmp_path, "study:\n  id: S-1\n  roles: {crc_plus: {base: crc}}\n")
    error = refused(tmp_path, "flow mapping", roles={"S-1": {"r1": {"base": "crc"}}})
    assert "block mapping" in error.message
    study(tmp_path, "study:\n  id: S-1\n  roles: [crc]\n")
    refused(tmp_path, "not a mapping", roles={"S-1": {"r1": {"base": "crc"}}})
    refused(tmp_path, "not declared", roles={"S-9": {"r1": {"base": "crc"}}})


# --- a study's sites ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout, expected",
    [
        ("  sites: [MGH, UCSF]   # the DAGs\n  name: S\n", '  sites: [MGH, UCSF, OUS, "NO"]   # the DAGs\n  name: S\n'),
        ("  sites: [ MGH , UCSF, ]\n  name: S\n", '  sites: [ MGH , UCSF, OUS, "NO", ]\n  name: S\n'),
        ("  sites: [MGH,\n    UCSF]\n  name: S\n", '  sites: [MGH,\n    UCSF, OUS, "NO"]\n  name: S\n'),
        ("  sites: []\n  name: S\n", '  sites: [MGH, OUS, "NO"]\n  name: S\n'),
        ("  sites:\n  - MGH\n  # last\n  name: S\n", '  sites:\n  - MGH\n  - OUS\n  - "NO"\n  # last\n  name: S\n'),
        ("  sites:\n    - MGH   # first\n", '  sites:\n    - MGH   # first\n    - OUS\n    - "NO"\n'),
        ("  sites:\n  name: S\n", '  sites:\n    - MGH\n    - OUS\n    - "NO"\n  name: S\n'),
        ("  sites: ~\n  name: S\n", '  sites:\n    - MGH\n    - OUS\n    - "NO"\n  name: S\n'),
        ("  name: S\n", '  name: S\n  sites:\n    - MGH\n    - OUS\n    - "NO"\n'),
    ],
)
def test_study_sites_flow_and_block(tmp_path: Path, layout: str, expected: str) -> None:
    head = "# sites of S-1\nstudy:\n  id: S-1\n"
    study(tmp_path, head + layout + "# end\n")
    # ids already listed are skipped, and each id is added once
    wanted = ["OUS", "MGH", "NO"] if "MGH" in layout else ["MGH", "OUS", "NO", "OUS"]
    edits = plan_edits(tmp_path, study_sites={"S-1": wanted})
    assert [e.what for e, _ in edits] == [f"{2 if 'MGH' in layout else 3} sites in study S-1"]
    write_edits(tmp_path, edits)
    assert (tmp_path / "studies/s1.yaml").read_text() == head + expected + "# end\n"
    assert loaded(tmp_path, "studies/s1.yaml")["study"]["sites"][-2:] == ["OUS", "NO"]


def test_study_sites_already_there_change_nothing(example_repo: Path) -> None:
    assert plan_edits(example_repo, study_sites={"DIAB-03": ["UCSF", "MGH"]}) == []
    edits = plan_edits(example_repo, study_sites={"DIAB-03": ["UCSF", "OUS"]})
    assert [e.what for e, _ in edits] == ["1 site in study DIAB-03"]
    assert "  sites: [MGH, UCSF, OUS]\n" in edits[0][1]


# --- new global sites ---------------------------------------------------------------------------------


def test_new_sites_file_and_validate(example_repo: Path) -> None:
    bergen = {"id": "BGO", "name": "Haukeland", "country": "NO"}
    edits = plan_edits(example_repo, sites=[OSLO, bergen], study_sites={"DIAB-03": ["BGO"]}, note=NOTE)
    assert [e for e, _ in edits] == [
        Edit("environments/sites-imported.yaml", "created", "2 sites (OUS-2, BGO)"),
        Edit("studies/diab-03.yaml", "appended", "1 site in study DIAB-03"),
    ]
    write_edits(example_repo, edits)
    assert (example_repo / "environments/sites-imported.yaml").read_text() == (
        "# yaml-language-server: $schema=../schemas/document.schema.json\n"
        f"# {NOTE}\n"
        "sites:\n"
        '  - {id: OUS-2, name: "Oslo University Hospital, Ullevål", country: "NO", timezone: Europe/Oslo, city: Oslo}\n'
        '  - {id: BGO, name: Haukeland, country: "NO"}\n'
    )
    code, out, err = run_inprocess(example_repo, "validate")
    assert code == 0, out + err
    # a second import appends to the file
    before = (example_repo / "environments/sites-imported.yaml").read_bytes()
    edits = plan_edits(example_repo, sites=[{"id": "TRD", "name": "St. Olavs", "country": "NO", "city": "Trondheim"}])
    assert [e for e, _ in edits] == [Edit("environments/sites-imported.yaml", "appended", "1 site (TRD)")]
    write_edits(example_repo, edits)
    assert (example_repo / "environments/sites-imported.yaml").read_bytes() == (
        before + b'  - {id: TRD, name: St. Olavs, country: "NO", city: Trondheim}\n'
    )


def test_site_conflicts_are_refused(example_repo: Path) -> None:
    refused(
        example_repo,
        "site OUS is already declared at environments/sites.yaml:",
        sites=[{"id": "OUS", "name": "Oslo", "country": "NO"}],
    )
    refused(example_repo, "OUS-2 is to be added twice", sites=[OSLO, OSLO])
    write(example_repo, "environments/sites-imported.yaml", "sites: [{id: X1, name: X, country: NO}]\n")
    refused(example_repo, "flow list", sites=[OSLO])
    write(example_repo, "environments/sites-imported.yaml", "environments:\n  - name: x\n")
    edits = plan_edits(example_repo, sites=[OSLO])  # a file without `sites:` gets the key
    assert edits[0][1].endswith(
        'sites:\n  - {id: OUS-2, name: "Oslo University Hospital, Ullevål", country: "NO", '
        "timezone: Europe/Oslo, city: Oslo}\n"
    )


def test_aliased_roles_and_sites_are_refused(tmp_path: Path) -> None:
    # appending to an alias would change the anchored declaration too: verification refuses it
    study(
        tmp_path,
        "studies:\n  - id: S-0\n    sites: &s [A]\n    roles: &r\n      r0: {base: crc}\n"
        "  - id: S-1\n    sites: *s\n    roles: *r\n",
    )
    refused(tmp_path, "would change existing declarations", roles={"S-1": {"r1": {"base": "crc"}}})
    refused(tmp_path, "would change existing declarations", study_sites={"S-1": ["B"]})


# --- everything at once ---------------------------------------------------------------------------------

CRLF_STUDY = [
    "# a REDCap project",
    "study:",
    "  id: S-1",
    "  system: redcap",
    "  sites: [A]  # DAGs",
    "  roles:",
    "    r0: {base: crc}   # first role",
    "  # access of S-1",
    "  access:",
    "    - {user: a.one, role: r0, sites: [A]}",
    "# end",
]


def test_roles_sites_and_grants_in_one_crlf_file(tmp_path: Path) -> None:
    path = tmp_path / "studies/s1.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes("\r\n".join(CRLF_STUDY).encode() + b"\r\n")
    grants = [{"user": f"u{i}", "role": "r1", "sites": ["B"]} for i in range(5)]
    edits = plan_edits(
        tmp_path,
        roles={"S-1": {"r1": {"base": "data_entry"}, "r2": {"base": "read_only"}}},
        study_sites={"S-1": ["B"]},
        grants={"S-1": grants},
    )
    assert [e.what for e, _ in edits] == ["2 roles, 1 site, 5 grants in study S-1"]
    write_edits(tmp_path, edits)
    lines = (
        CRLF_STUDY[:4]
        + ["  sites: [A, B]  # DAGs"]
        + CRLF_STUDY[5:7]
        + ["    r1: {base: data_entry}", "    r2: {base: read_only}"]
        + CRLF_STUDY[7:10]
        + [f"    - {{user: u{i}, role: r1, sites: [B]}}" for i in range(5)]
        + CRLF_STUDY[10:]
    )
    assert path.read_bytes() == "\r\n".join(lines).encode() + b"\r\n"


@pytest.mark.parametrize(
    "layout",
    [
        # everything missing: sites, roles and access keys at the end, in that order
        "study:\n  id: S-1\n",
        # roles (block) last and the rest missing: its new entries come before the new keys
        "study:\n  id: S-1\n  roles:\n    r0: {base: crc}\n",
        # a block sites list right before access, no roles: the site item, then roles, then access
        "study:\n  id: S-1\n  sites:\n    - A\n  access:\n    - {user: a, role: crc}\n",
        # `roles:` empty right before `sites:` empty
        "study:\n  id: S-1\n  roles:\n  sites:\n",
    ],
)
def test_edits_at_the_same_place_keep_their_keys_apart(tmp_path: Path, layout: str) -> None:
    study(tmp_path, layout)
    old = loaded(tmp_path, "studies/s1.yaml")["study"]
    write_edits(
        tmp_path,
        plan_edits(
            tmp_path,
            roles={"S-1": {"r1": {"base": "crc"}}},
            study_sites={"S-1": ["B"]},
            grants={"S-1": [{"user": "b", "role": "r1"}]},
        ),
    )
    new = loaded(tmp_path, "studies/s1.yaml")["study"]
    assert new["roles"] == {**(old.get("roles") or {}), "r1": {"base": "crc"}}
    assert new["sites"] == (old.get("sites") or []) + ["B"]
    assert new["access"] == (old.get("access") or []) + [{"user": "b", "role": "r1"}]


def test_mini_with_everything_validates(mini_repo: Path) -> None:
    edits = plan_edits(
        mini_repo,
        note=NOTE,
        sites=[{"id": "OSLO", "name": "Oslo Hospital", "country": "NO", "timezone": "Europe/Oslo"}],
        members={"staff": [{"username": "olga.oslo", "email": "olga@hospital.example.org", "name": "Olga Oslo"}]},
        roles={"HEART-01": {"site_reader": {"base": "monitor", "tags": {"safety": "read"}}}},
        study_sites={"HEART-01": ["OSLO", "BOS"]},
        grants={"HEART-01": [{"user": "olga.oslo", "role": "site_reader", "environments": "all", "sites": ["OSLO"]}]},
    )
    assert [(e.path, e.action, e.what) for e, _ in edits] == [
        ("environments/sites-imported.yaml", "created", "1 site (OSLO)"),
        ("groups/staff.yaml", "appended", "1 member in group staff"),
        ("studies/heart.yaml", "appended", "1 role, 1 site, 1 grant in study HEART-01"),
    ]
    write_edits(mini_repo, edits)
    text = (mini_repo / "studies/heart.yaml").read_text()
    assert "  sites: [BOS, NYC, LYON, OSLO]\n" in text
    assert "    site_reader: {base: monitor, tags: {safety: read}}\n  access:\n" in text
    sources = load_sources(mini_repo)
    assert not [d for d in sources.diagnostics if d.severity == "error"]
    result = run_edcconf("--config", mini_repo, "validate", cwd=mini_repo)
    assert result.code == 0, result
    assert "4 sites, 2 groups, 6 people, 6 grants" in result.out


def test_write_edits_all_or_nothing_with_a_new_sites_file(example_repo: Path, monkeypatch) -> None:
    edits = plan_edits(
        example_repo, sites=[OSLO], study_sites={"DIAB-03": ["OUS-2"]}, roles={"DIAB-03": {"r9": {"base": "read_only"}}}
    )
    assert [e.path for e, _ in edits] == ["environments/sites-imported.yaml", "studies/diab-03.yaml"]
    before = snapshot(example_repo)
    real, calls = os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError):
        write_edits(example_repo, edits)
    assert snapshot(example_repo) == before


def test_import_result_carries_roles_and_sites(example_repo: Path) -> None:
    result = ImportResult(
        "REDCap project of DIAB-03 (production)",
        roles={"DIAB-03": {"rc": RC_ROLE}},
        study_sites={"DIAB-03": ["OUS-2"]},
        sites=[OSLO],
    )
    assert not result.empty and ImportResult("x").empty
    assert not ImportResult("x", sites=[OSLO]).empty
    assert result.summary() == [
        "site OUS-2 (Oslo University Hospital, Ullevål)",
        "1 roles in study DIAB-03",
        "1 sites in study DIAB-03",
    ]
    before = snapshot(example_repo)
    written = write_import(example_repo, result, dry_run=True)
    assert [(e.path, e.what) for e in written] == [
        ("environments/sites-imported.yaml", "1 site (OUS-2)"),
        ("studies/diab-03.yaml", "1 role, 1 site in study DIAB-03"),
    ]
    assert snapshot(example_repo) == before
    write_import(example_repo, result)
    assert loaded(example_repo, "studies/diab-03.yaml")["study"]["roles"]["rc"] == RC_ROLE
    assert "OUS-2" in (example_repo / "environments/sites-imported.yaml").read_text()
