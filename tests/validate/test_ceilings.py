"""Ceilings fail closed (002, 004): an unnamed right is none, `extends:` and `unnamed: unlimited` are the
only ways to open more, and the SAG/ACG files say exactly what the declaration means."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from edcconf.catalogs import catalog
from edcconf.diagnostics import UserError
from edcconf.pipeline import load_desired
from edcconf.rules.ceilings import declaration_from_keys, effective_ceiling
from tests.conftest import examples, write

TODAY = date(2026, 11, 24)
REDCAP = catalog("redcap")


def diagnostics(root):
    """The configuration's diagnostics and the ceiling-exceeded error of each grant above its ceiling
    (which the plan raises when it adds or changes the grant: with no state, every grant is added)."""
    try:
        desired = load_desired(root, TODAY)
    except UserError as exc:
        return [(d.code, d.severity, str(d.loc), d.message) for d in exc.diagnostics]
    above = {d for env in desired.resolution.ceilings.values() for d, _ in env.values()}
    return [
        (d.code, d.severity, str(d.loc), d.message)
        for d in list(desired.diagnostics) + sorted(above, key=lambda d: d.sort_key())
    ]


def group(root, text):
    write(root, "groups/extra.yaml", text)


def grant(root, line):
    path = root / "studies/heart.yaml"
    path.write_text(path.read_text().replace("  access:\n", f"  access:\n{line}"))


def codes(root):
    return [(c, s) for c, s, *_ in diagnostics(root) if c != "queries-hidden"]


def test_a_right_the_ceiling_does_not_name_is_none(mini_repo):
    group(
        mini_repo,
        """\
        group:
          id: monitors
          ceiling: {form_access: review}
          members:
            - {username: mo.two, email: mo2@hospital.example.org, name: Mo Two}
        """,
    )
    grant(mini_repo, "    - {user: mo.two, role: data_manager, sites: all}\n")
    (found,) = [d for d in diagnostics(mini_repo) if d[0] == "ceiling-exceeded"]
    assert "data_export full (allowed none)" in found[3] and "user_rights full (allowed none)" in found[3]
    assert "does not name data_export, user_rights" in found[3] and "unnamed: unlimited" in found[3]


def test_a_group_without_a_ceiling_allows_nothing(mini_repo):
    group(
        mini_repo,
        """\
        group:
          id: bare
          members:
            - {username: bo.bare, email: bo@hospital.example.org, name: Bo Bare}
        """,
    )
    grant(mini_repo, "    - {user: bo.bare, role: viewer, sites: all}\n")
    assert ("ceiling-exceeded", "error") in codes(mini_repo)


def test_extends_starts_from_another_groups_ceiling_and_may_narrow_it(mini_repo):
    group(
        mini_repo,
        """\
        group:
          id: junior-staff
          extends: staff
          ceiling: {data_export: none}
          members:
            - {username: jo.junior, email: jo@hospital.example.org, name: Jo Junior}
            - {username: ja.junior, email: ja@hospital.example.org, name: Ja Junior}
        """,
    )
    grant(mini_repo, "    - {user: jo.junior, role: monitor, sites: all}\n")
    assert codes(mini_repo) == []  # review on forms: the parent's form_access edit allows it
    grant(mini_repo, "    - {user: ja.junior, role: data_manager, sites: all}\n")
    found = [d for d in diagnostics(mini_repo) if d[0] == "ceiling-exceeded"]
    assert found and "data_export full (allowed none)" in found[0][3] and "user_rights" not in found[0][3]


def test_extends_an_unknown_group_or_a_cycle_is_an_error(mini_repo):
    group(
        mini_repo,
        """\
        group:
          id: a-group
          extends: b-group
        """,
    )
    write(
        mini_repo,
        "groups/b.yaml",
        """\
        group:
          id: b-group
          extends: a-group
        """,
    )
    assert ("ceiling-extends", "error") in codes(mini_repo)
    write(
        mini_repo,
        "groups/b.yaml",
        """\
        group:
          id: b-group
          extends: stafff
        """,
    )
    found = [d for d in diagnostics(mini_repo) if d[0] == "unknown-reference"]
    assert found and "did you mean 'staff'" in found[0][3]


def test_unnamed_unlimited_opens_everything_with_a_warning(mini_repo):
    group(
        mini_repo,
        """\
        group:
          id: admins
          ceiling: {unnamed: unlimited, data_export: none}
          members:
            - {username: al.admin, email: al@hospital.example.org, name: Al Admin}
            - {username: an.admin, email: an@hospital.example.org, name: An Admin}
        """,
    )
    grant(mini_repo, "    - {user: al.admin, role: monitor, sites: all}\n")
    assert codes(mini_repo) == [("ceiling-unlimited", "warning")]
    grant(mini_repo, "    - {user: an.admin, role: data_manager, sites: all}\n")
    assert ("ceiling-exceeded", "error") in codes(mini_repo)  # what it names still limits


def test_a_redcap_key_above_the_generic_right_stays_closed_and_is_warned(mini_repo):
    group(
        mini_repo,
        """\
        group:
          id: apis
          ceiling: {form_access: read, redcap: {api_export: 1}}
        """,
    )
    assert ("ceiling-redcap-closed", "warning") in codes(mini_repo)


def test_one_default_group(mini_repo):
    group(mini_repo, "group: {id: first, default: true}\n")
    write(mini_repo, "groups/second.yaml", "group: {id: second, default: true}\n")
    assert ("default-group", "error") in codes(mini_repo)


@settings(max_examples=examples(300), deadline=None)
@given(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in REDCAP.right_keys.items()}))
def test_a_sag_row_declares_exactly_itself(row):
    """import -> declaration -> effective ceiling is the row again, for every row the module accepts."""
    named, keys = declaration_from_keys(row)
    assert dict(effective_ceiling(named, keys).keys) == row


def test_export_writes_g_norights_all_zero_and_one_default(tmp_path):
    import csv
    import io

    from tests.conftest import REPO, run_edcconf

    out = tmp_path / "out"
    assert run_edcconf("export", "files", "--env", "test", "-o", out, cwd=REPO).code == 0
    acg = list(csv.DictReader(io.StringIO((out / "groups/acg-definitions.csv").read_text())))
    norights = [r for r in acg if r["group_id"] == "G-NORIGHTS"]
    assert len(norights) == 1 and norights[0]["group_name"] == "No Rights"
    assert all(v == "0" for k, v in norights[0].items() if k not in ("group_id", "group_name", "is_default_group"))
    assert [r["group_id"] for r in acg if r["is_default_group"] == "1"] == ["G-NORIGHTS"]
    sag = list(csv.DictReader(io.StringIO((out / "groups/sag-definitions.csv").read_text())))
    (default,) = [r for r in sag if r["sag_id"] == "sag_Default"]
    assert all(v == "0" for k, v in default.items() if k not in ("sag_id", "sag_name"))
    # every group's row is its declared ceiling, unnamed rights 0: the monitors name reports and graphical only
    monitors = next(r for r in sag if r["sag_name"].startswith("Completed monitoring"))
    assert {k for k, v in monitors.items() if v not in ("0", "") and k not in ("sag_id", "sag_name")} == {
        "dataViewing",
        "reports",
        "graphical",
    }
    assert monitors["dataViewing"] == "1"  # form_access review: read only in REDCap


def test_a_role_holding_rights_the_targets_redcap_version_cannot_carry_is_an_error(tmp_path):
    """Per-form delete exists from REDCap 15.6: a role with it cannot be planned for a 14.x target."""
    from tests.conftest import REPO, copy_config

    root = copy_config(REPO, tmp_path / "example")
    env = root / "environments/test.yaml"
    env.write_text(
        env.read_text().replace(
            "redcap: {provider: csv, out: build/test/redcap}",
            'redcap: {provider: csv, out: build/test/redcap, version: "14.0.0"}',
        )
    )
    study = root / "studies/diab-03.yaml"
    study.write_text(
        study.read_text().replace(
            "coordinator: {base: data_entry, tags: {safety: edit}, redcap: {dataExport: 1}}",
            "coordinator: {base: data_entry, tags: {safety: edit}, redcap: {dataExport: 1},\n"
            "                  redcap_forms: {demographics: {view: 4}}}",
        )
    )
    found = [d for d in diagnostics(root) if d[0] == "redcap-version"]
    assert found and "REDCap 14.0.0" in found[0][3] and "demographics" in found[0][3]
