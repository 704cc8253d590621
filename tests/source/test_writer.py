"""source.writer: imported declarations are inserted as text; everything else stays byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from edcconf.diagnostics import UserError
from edcconf.source import load_sources
from edcconf.source.writer import Edit, plan_edits, write_edits
from edcconf.source.writer_text import scalar
from tests.conftest import run_inprocess, write

NOTE = "Imported by edcconf import from sag.csv on 2026-02-01"


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def only_inserted(before: bytes, after: bytes, inserted: list[bytes]) -> None:
    """after == before with the inserted block at one place, all other bytes untouched."""
    block = b"".join(inserted)
    at = after.find(block)
    assert at >= 0, after.decode()
    assert after[:at] + after[at + len(block) :] == before


def loaded(root: Path, rel: str):
    return next(f for f in load_sources(root).files if f.path == rel).data


# --- the example organisation -----------------------------------------------------------------------


def test_appends_members_and_grants_preserving_everything_else(example_repo: Path) -> None:
    before = snapshot(example_repo)
    edits = plan_edits(
        example_repo,
        members={
            "study-staff": [
                {"username": "zoe.kim", "email": "zoe.kim@hospital.example.org", "name": "Zoe Kim", "type": "user"}
            ]
        },
        grants={
            "CARDIO-01": [
                {"expires": "2027-01-31", "sites": ["MGH"], "user": "zoe.kim", "environments": "all", "role": "crc"}
            ]
        },
    )
    assert snapshot(example_repo) == before  # planning writes nothing
    assert [e for e, _ in edits] == [
        Edit("groups/study-staff.yaml", "appended", "1 member in group study-staff"),
        Edit("studies/cardio-01.yaml", "appended", "1 grant in study CARDIO-01"),
    ]
    write_edits(example_repo, edits)
    after = snapshot(example_repo)
    assert set(after) == set(before)
    # study-staff ends with a block-style item (tom.hart, with a trailing comment): the new one is block style
    only_inserted(
        before["groups/study-staff.yaml"],
        after["groups/study-staff.yaml"],
        [
            b"    - username: zoe.kim\n      email: zoe.kim@hospital.example.org\n"
            b"      name: Zoe Kim\n      type: user\n"
        ],
    )
    assert after["groups/study-staff.yaml"].endswith(
        b"# left the study team; keeps no access\n"
        b"    - username: zoe.kim\n      email: zoe.kim@hospital.example.org\n"
        b"      name: Zoe Kim\n      type: user\n"
    )
    # grants: one flow mapping per line, keys in the documented order, dates quoted
    only_inserted(
        before["studies/cardio-01.yaml"],
        after["studies/cardio-01.yaml"],
        [b'    - {user: zoe.kim, role: crc, environments: all, sites: [MGH], expires: "2027-01-31"}\n'],
    )
    for rel in set(before) - {"groups/study-staff.yaml", "studies/cardio-01.yaml"}:
        assert after[rel] == before[rel], rel
    _holds_gcp(example_repo / "groups/study-staff.yaml")
    code, out, err = run_inprocess(example_repo, "validate")
    assert code == 0, out + err
    assert "20 people, 29 grants" in out


def test_new_group_file_in_repository_style_and_validate_succeeds(example_repo: Path) -> None:
    group = {
        "id": "sag-monitors",
        "description": "Monitors imported from REDCap",
        "ceiling": {"form_access": "review", "data_export": "de-identified", "redcap": {"dataExport": 1, "design": 0}},
        "message": "Ask the EDC team: see policy EDC-7 # not a comment",
        "members": [
            {"name": "Yes", "email": "yes.person@hospital.example.org", "username": "yes.person"},
            {"username": "on", "email": "on@hospital.example.org", "name": "Off", "type": "user"},
        ],
    }
    edits = plan_edits(example_repo, groups=[group], note=NOTE)
    assert [e for e, _ in edits] == [Edit("groups/sag-monitors.yaml", "created", "group sag-monitors (2 members)")]
    write_edits(example_repo, edits)
    text = (example_repo / "groups/sag-monitors.yaml").read_text()
    assert text == (
        "# yaml-language-server: $schema=../schemas/document.schema.json\n"
        f"# {NOTE}\n"
        "group:\n"
        "  id: sag-monitors\n"
        "  description: Monitors imported from REDCap\n"
        "  ceiling:\n"
        "    form_access: review\n"
        "    data_export: de-identified\n"
        "    redcap: {dataExport: 1, design: 0}\n"
        '  message: "Ask the EDC team: see policy EDC-7 # not a comment"\n'
        "  members:\n"
        '    - {username: yes.person, email: yes.person@hospital.example.org, name: "Yes"}\n'
        '    - {username: "on", email: on@hospital.example.org, name: "Off", type: user}\n'
    )
    # a YAML 1.1 reader (PyYAML's safe_load) reads the same text values
    assert yaml.safe_load(text)["group"]["members"][1] == {
        "username": "on",
        "email": "on@hospital.example.org",
        "name": "Off",
        "type": "user",
    }
    code, out, err = run_inprocess(example_repo, "validate")
    assert code == 0, out + err
    assert "7 groups, 21 people" in out


def test_validate_via_subprocess_after_import(example_repo: Path, cli) -> None:
    edits = plan_edits(
        example_repo,
        members={
            "trained-monitors": [
                {"username": "lea.roux", "email": "lea.roux@cro.example.com", "name": "Léa Roux", "type": "user"}
            ]
        },
        grants={"ONC-04": [{"user": "lea.roux", "role": "cra", "environments": ["production"], "countries": ["FR"]}]},
    )
    write_edits(example_repo, edits)
    text = (example_repo / "groups/monitors.yaml").read_text()
    assert text.endswith(
        "        requested_by: ingrid.berg\n    - username: lea.roux\n"
        "      email: lea.roux@cro.example.com\n      name: Léa Roux\n      type: user\n"
    )
    _holds_gcp(example_repo / "groups/monitors.yaml")
    result = cli("--config", example_repo, "validate", cwd=example_repo)
    assert result.code == 0, result


def _holds_gcp(group_file: Path) -> None:
    """The example requires gcp of every grant (environments/qualifications.yaml), which an import cannot
    know: the person appended last (block style) holds it, as someone would record before the plan."""
    group_file.write_text(group_file.read_text() + "      qualifications: {gcp: {completed: 2025-01-01}}\n")


# --- styles and layouts -------------------------------------------------------------------------------

GROUP_FLOW = """\
# people of the flow group
group:
  id: flowers
  description: Flow-style members   # a comment

  members:
    - {username: a.one, email: a.one@x.org, name: A One}   # first
      # an indented comment after the last item

    # a comment before the next key
  message: hello
"""


def test_flow_style_members_inserted_after_last_item_before_comments(tmp_path: Path) -> None:
    write(tmp_path, "groups/flowers.yaml", GROUP_FLOW)
    edits = plan_edits(tmp_path, members={"flowers": [{"username": "b.two", "email": "b#two@x.org", "name": "B Two"}]})
    write_edits(tmp_path, edits)
    assert (tmp_path / "groups/flowers.yaml").read_text() == GROUP_FLOW.replace(
        "# first\n", '# first\n    - {username: b.two, email: "b#two@x.org", name: B Two}\n'
    )
    assert loaded(tmp_path, "groups/flowers.yaml")["group"]["members"][-1]["email"] == "b#two@x.org"


def test_block_style_members_with_nested_mapping_and_indentless_list(tmp_path: Path) -> None:
    original = (
        "group:\n"
        "    id: blocky\n"
        "    members:\n"
        "    -   username: a.one\n"
        "        email: a.one@x.org\n"
        "        name: A One\n"
        "    message: after\n"
    )
    write(tmp_path, "groups/blocky.yaml", original)
    person = {
        "username": "b.two",
        "email": "b@x.org",
        "name": "no",
        "external": {"organization": "Acme: CRO", "agreement_signed": "2026-01-01", "basis": "protocol"},
    }
    write_edits(tmp_path, plan_edits(tmp_path, members={"blocky": [person]}))
    assert (tmp_path / "groups/blocky.yaml").read_text() == original.replace(
        "    message",
        (
            "    -   username: b.two\n"
            "        email: b@x.org\n"
            '        name: "no"\n'
            "        external:\n"
            '          organization: "Acme: CRO"\n'
            '          agreement_signed: "2026-01-01"\n'
            "          basis: protocol\n"
            "    message"
        ),
    )
    assert loaded(tmp_path, "groups/blocky.yaml")["group"]["members"][-1] == person


def test_crlf_file_keeps_crlf(tmp_path: Path) -> None:
    lines = ["# CRLF file", "study:", "  id: S-1", "  access:", "    - {user: a.one, role: crc}  # x", "  name: S"]
    path = tmp_path / "studies/s1.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n")
    write_edits(tmp_path, plan_edits(tmp_path, grants={"S-1": [{"user": "b.two", "role": "crc", "sites": "all"}]}))
    raw = path.read_bytes()
    assert (
        raw
        == b"\r\n".join(
            line.encode() for line in lines[:5] + ["    - {user: b.two, role: crc, sites: all}"] + lines[5:]
        )
        + b"\r\n"
    )
    assert raw.count(b"\n") == raw.count(b"\r\n")


def test_file_without_trailing_newline_gets_one(tmp_path: Path) -> None:
    path = tmp_path / "studies/s1.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"study:\n  id: S-1\n  access:\n    - {user: a.one, role: crc}")
    write_edits(tmp_path, plan_edits(tmp_path, grants={"S-1": [{"user": "b.two", "role": "crc"}]}))
    assert path.read_bytes() == (
        b"study:\n  id: S-1\n  access:\n    - {user: a.one, role: crc}\n    - {user: b.two, role: crc}\n"
    )


def test_study_without_access_gets_the_key(tmp_path: Path) -> None:
    original = "study:\n  id: S-1\n  sites: [MGH]   # only site\n\n# trailing comment\n"
    write(tmp_path, "studies/s1.yaml", original)
    edits = plan_edits(
        tmp_path,
        grants={
            "S-1": [
                {"user": "b.two", "role": "crc", "environments": ["test"]},
                {"user": "c.three", "role": "cra", "countries": ["FR"]},
            ]
        },
    )
    assert edits[0][0].what == "2 grants in study S-1"
    write_edits(tmp_path, edits)
    assert (tmp_path / "studies/s1.yaml").read_text() == (
        "study:\n  id: S-1\n  sites: [MGH]   # only site\n"
        "  access:\n"
        "    - {user: b.two, role: crc, environments: [test]}\n"
        "    - {user: c.three, role: cra, countries: [FR]}\n"
        "\n# trailing comment\n"
    )


def test_group_without_members_and_with_empty_members_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        "groups/two.yaml",
        "groups:\n  - id: g1\n    description: none yet\n  - id: g2\n    members:\n  - id: g3\n",
    )
    person = lambda u: {"username": u, "email": f"{u}@x.org", "name": u.upper()}  # noqa: E731
    write_edits(tmp_path, plan_edits(tmp_path, members={"g1": [person("a")], "g2": [person("b")]}))
    assert (tmp_path / "groups/two.yaml").read_text() == (
        "groups:\n  - id: g1\n    description: none yet\n    members:\n      - {username: a, email: a@x.org, name: A}\n"
        "  - id: g2\n    members:\n      - {username: b, email: b@x.org, name: B}\n  - id: g3\n"
    )


@pytest.mark.parametrize("empty", ["~", "null   ", "NULL  # nobody yet"])
def test_explicit_null_list_is_filled(tmp_path: Path, empty: str) -> None:
    write(tmp_path, "groups/g.yaml", f"group:\n  id: g1\n  members: {empty}\n  description: d\n")
    write_edits(tmp_path, plan_edits(tmp_path, members={"g1": [{"username": "a", "email": "a@x.org", "name": "A"}]}))
    key = "members:   # nobody yet" if "#" in empty else "members:"
    assert (tmp_path / "groups/g.yaml").read_text() == (
        f"group:\n  id: g1\n  {key}\n    - {{username: a, email: a@x.org, name: A}}\n  description: d\n"
    )


def test_scalar_quotes_what_yaml_would_misread() -> None:
    for text in [
        "yes",
        "Yes",
        "no",
        "on",
        "off",
        "null",
        "~",
        "",
        "1",
        "1.5",
        "0x1F",
        "1_000",
        "2027-01-31",
        "a: b",
        "a #b",
        "#x",
        "-x",
        "*x",
        "&x",
        "!x",
        "[x",
        "{x",
        "'x",
        '"x',
        " x",
        "x ",
        "%x",
        "@x",
        "|",
        ">",
    ]:
        out = scalar(text)
        assert out.startswith('"'), text
        assert yaml.safe_load(f"k: {out}") == {"k": text}
        assert yaml.safe_load(f"k: [{out}]") == {"k": [text]}
    for text in ["bob.smith", "Bob Smith", "bob@x.org", "Max Müller", "O'Brien", "de-identified"]:
        assert scalar(text) == text


# --- refusals: nothing is written -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"groups": [{"id": "study-staff", "members": []}]}, "already exists"),
        ({"groups": [{"id": "STUDY-STAFF", "members": []}]}, "already exists"),  # case-insensitive file systems
        ({"groups": [{"id": "trained-monitors", "members": []}]}, "already declared"),  # in groups/monitors.yaml
        ({"groups": [{"id": "new-1"}, {"id": "new-1"}]}, "already exists"),
        ({"members": {"nobody": [{"username": "x", "email": "x@x.org", "name": "X"}]}}, "not declared"),
        ({"grants": {"NOPE-9": [{"user": "x", "role": "crc"}]}}, "not declared"),
    ],
)
def test_conflicts_are_refused_and_nothing_written(example_repo: Path, kwargs: dict, message: str) -> None:
    before = snapshot(example_repo)
    good = {"CARDIO-01": [{"user": "ann.lee", "role": "crc", "environments": "all", "sites": "all"}]}
    with pytest.raises(UserError) as info:
        plan_edits(example_repo, **{"grants": good, **kwargs})
    assert info.value.code == "import-conflict"
    assert message in info.value.message
    assert snapshot(example_repo) == before


def test_flow_list_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "studies/s1.yaml", "study:\n  id: S-1\n  access: [{user: a, role: crc}]\n")
    with pytest.raises(UserError) as info:
        plan_edits(tmp_path, grants={"S-1": [{"user": "b", "role": "crc"}]})
    assert info.value.code == "import-conflict" and "flow list" in info.value.message


def test_verification_refuses_a_layout_the_insertion_would_break(tmp_path: Path) -> None:
    # the last item ends in a block scalar whose text ends at end of file: inserting after it works,
    # but a merge key (members defined through an alias) cannot be appended to by text
    write(
        tmp_path,
        "groups/g.yaml",
        "groups:\n  - &base\n    id: g0\n    members:\n      - {username: a, email: a@x.org, name: A}\n"
        "  - <<: *base\n    id: g1\n",
    )
    before = snapshot(tmp_path)
    with pytest.raises(UserError) as info:
        plan_edits(tmp_path, members={"g1": [{"username": "b", "email": "b@x.org", "name": "B"}]})
    assert info.value.code == "import-conflict"
    assert snapshot(tmp_path) == before


def test_write_edits_is_all_or_nothing(example_repo: Path, monkeypatch) -> None:
    edits = plan_edits(
        example_repo,
        groups=[{"id": "g-new", "members": []}],
        members={"study-staff": [{"username": "zz", "email": "zz@x.org", "name": "ZZ"}]},
        grants={"CARDIO-01": [{"user": "zz", "role": "crc"}]},
    )
    before = snapshot(example_repo)
    real = os.replace
    calls = []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError):
        write_edits(example_repo, edits)
    assert snapshot(example_repo) == before  # replaced files restored, created ones removed, no temp files


def test_write_edits_refuses_a_file_changed_since_planning(example_repo: Path) -> None:
    edits = plan_edits(example_repo, grants={"CARDIO-01": [{"user": "ann.lee", "role": "crc"}]})
    path = example_repo / "studies/cardio-01.yaml"
    path.write_bytes(path.read_bytes() + b"# edited meanwhile\n")
    before = snapshot(example_repo)
    with pytest.raises(UserError) as info:
        write_edits(example_repo, edits)
    assert info.value.code == "import-conflict"
    assert snapshot(example_repo) == before


def test_block_scalars_and_empty_values_at_the_end_of_the_last_item(tmp_path: Path) -> None:
    original = (
        "group:\n  id: g0\n  description: |\n    text\n    - {x}\n  members:\n"
        "    - username: a\n      email: a@x.org\n      name: A\n      timezone: >\n        Europe/\n        Paris\n"
        "\n    # end of a\n"
        "    - username: c\n      email: c@x.org\n      name: C\n      external:\n    # end of c\n\n"
    )
    write(tmp_path, "groups/g.yaml", original)
    write_edits(tmp_path, plan_edits(tmp_path, members={"g0": [{"username": "b", "email": "b@x.org", "name": "B"}]}))
    assert (tmp_path / "groups/g.yaml").read_text() == original.replace(
        "      external:\n", "      external:\n    - username: b\n      email: b@x.org\n      name: B\n"
    )
    original = original.replace("    - username: c\n      email: c@x.org\n      name: C\n      external:\n", "")
    write(tmp_path, "groups/g.yaml", original)
    write_edits(tmp_path, plan_edits(tmp_path, members={"g0": [{"username": "b", "email": "b@x.org", "name": "B"}]}))
    assert (tmp_path / "groups/g.yaml").read_text() == original.replace(
        "        Paris\n", "        Paris\n    - username: b\n      email: b@x.org\n      name: B\n"
    )
