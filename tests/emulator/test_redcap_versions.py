"""User and user role columns follow the emulated REDCap version (docs/emulator.md, version table)."""

import json

import pytest
from redcap import Project
from redcap.request import RedcapError

from .conftest import TOKEN, make

# REDCap's user export order, every field any version has (written out here, not taken from the
# emulator, so that a change to its table shows up as a failure).
USER_ORDER = [
    "username",
    "email",
    "firstname",
    "lastname",
    "expiration",
    "data_access_group",
    "data_access_group_id",
    "data_access_group_label",
    "design",
    "alerts",
    "user_rights",
    "data_access_groups",
    "reports",
    "stats_and_charts",
    "manage_survey_participants",
    "calendar",
    "data_import_tool",
    "data_comparison_tool",
    "logging",
    "email_logging",
    "file_repository",
    "data_quality_create",
    "data_quality_execute",
    "api_export",
    "api_import",
    "api_modules",
    "mobile_app",
    "mobile_app_download_data",
    "record_create",
    "record_rename",
    "record_delete",
    "lock_records_all_forms",
    "lock_records",
    "lock_records_customization",
    "mycap_participants",
    "random_setup",
    "random_dashboard",
    "random_perform",
    "forms",
    "forms_export",
]
USER_INFO = {
    "username",
    "email",
    "firstname",
    "lastname",
    "expiration",
    "data_access_group",
    "data_access_group_id",
    "data_access_group_label",
}
RANDOM = {"random_setup", "random_dashboard", "random_perform"}
# fields a version does not export yet
MISSING = {
    "8.11.0": {
        "alerts",
        "data_access_group_id",
        "email_logging",
        "mycap_participants",
        "api_modules",
        "data_access_group_label",
    }
    | RANDOM,
    "9.0.0": {"data_access_group_id", "email_logging", "mycap_participants", "api_modules", "data_access_group_label"}
    | RANDOM,
    "10.9.0": {"mycap_participants", "api_modules", "data_access_group_label"} | RANDOM,
    "13.1.0": {"api_modules", "data_access_group_label"} | RANDOM,
    "14.0.0": {"data_access_group_label"} | RANDOM,
    "14.4.1": {"data_access_group_label"} | RANDOM,
    "14.5.0": set(),
    "15.6.0": set(),
}


@pytest.fixture(params=sorted(MISSING))
def versioned(request):
    emu = make(request.param)
    yield request.param, emu, Project(emu.url, TOKEN)
    emu.stop()


def expected_user_columns(version):
    return [f for f in USER_ORDER if f not in MISSING[version]]


def expected_role_columns(version):
    return ["unique_role_name", "role_label"] + [f for f in expected_user_columns(version) if f not in USER_INFO]


def test_user_export_columns_follow_the_version(versioned):
    version, emu, proj = versioned
    proj.import_users([{"username": "bob", "data_access_group": "ucsf"}])
    [user] = proj.export_users()
    assert list(user) == expected_user_columns(version)
    header = proj.export_users(format_type="csv").split("\n")[0]
    assert header.split(",") == expected_user_columns(version)
    if "data_access_group_label" in user:
        assert (user["data_access_group"], user["data_access_group_label"]) == ("ucsf", "UCSF")


def test_role_export_columns_follow_the_version(versioned):
    version, emu, proj = versioned
    proj.import_user_roles([{"role_label": "Monitor", "reports": 1}])
    [role] = proj.export_user_roles()
    assert list(role) == expected_role_columns(version)
    header = proj.export_user_roles(format_type="csv").split("\n")[0]
    assert header.split(",") == expected_role_columns(version)


def test_a_field_the_version_lacks_is_an_unknown_field(versioned):
    """Every field a version does not export is refused on import, by user and by role."""
    version, emu, proj = versioned
    for name in sorted(MISSING[version] - {"data_access_group_id", "data_access_group_label"}):
        with pytest.raises(RedcapError, match=f'The following fields are not valid: "{name}"'):
            proj.import_users([{"username": "bob", name: 1}])
        with pytest.raises(RedcapError, match=f'The following fields are not valid: "{name}"'):
            proj.import_user_roles([{"role_label": "Monitor", name: 1}])
    assert proj.export_users() == [] and proj.export_user_roles() == []


def test_exported_dag_columns_import_back_where_the_version_has_them(versioned):
    """An export imported back is accepted: data_access_group_id/_label are read-only columns."""
    version, emu, proj = versioned
    proj.import_users([{"username": "bob", "data_access_group": "mgh", "design": 1}])
    exported = proj.export_users()
    assert proj.import_users(exported) == 1
    assert proj.export_users() == exported
    for name in ("data_access_group_id", "data_access_group_label"):
        if name in MISSING[version]:
            with pytest.raises(RedcapError, match=f'"{name}"'):
                proj.import_users([{"username": "bob", name: ""}])


def test_random_rights_from_14_5_for_users_and_roles():
    emu = make("14.5.0")
    try:
        proj = Project(emu.url, TOKEN)
        proj.import_users([{"username": "bob", "random_setup": 1, "random_perform": "1"}])
        user = proj.export_users()[0]
        assert (user["random_setup"], user["random_dashboard"], user["random_perform"]) == (1, 0, 1)
        proj.import_users([{"username": "bob", "design": 1}])  # omitted: kept
        assert proj.export_users()[0]["random_setup"] == 1
        with pytest.raises(RedcapError, match='"random_dashboard"'):
            proj.import_users([{"username": "bob", "random_dashboard": 2}])  # 0/1 only
        proj.import_user_roles([{"role_label": "Randomiser", "random_dashboard": 1}])
        role = proj.export_user_roles()[0]
        assert (role["random_setup"], role["random_dashboard"], role["random_perform"]) == ("0", "1", "0")
        r = emu.project(12).role(role["unique_role_name"])
        assert r.rights.rights["random_dashboard"] == 1
    finally:
        emu.stop()


def test_random_rights_are_refused_before_14_5_with_the_unknown_field_error():
    emu = make("13.1.0")
    try:
        import requests

        r = requests.post(
            emu.url,
            timeout=5,
            data={
                "token": TOKEN,
                "content": "user",
                "format": "json",
                "data": json.dumps([{"username": "bob", "random_setup": 1}]),
            },
        )
        assert r.status_code == 400
        assert r.json() == {"error": 'The following fields are not valid: "random_setup"'}
        assert emu.project(12).users == {}
    finally:
        emu.stop()


@pytest.mark.parametrize(
    "version, accepted, refused",
    [
        ("15.5.3", [0, 1, 2, 3], [128, 129, 130, 138, 146, 154, 4]),
        ("15.6.0", [128, 129, 130, 138, 146, 154], [0, 1, 2, 3, 131, 162]),
    ],
)
def test_per_form_codes_switch_at_15_6(version, accepted, refused):
    emu = make(version)
    try:
        proj = Project(emu.url, TOKEN)
        for code in accepted:
            proj.import_users([{"username": "bob", "forms": {"hba1c": code}, "forms_export": {"hba1c": code % 4}}])
            user = proj.export_users()[0]
            assert (user["forms"]["hba1c"], user["forms_export"]["hba1c"]) == (code, code % 4)
        for code in refused:
            with pytest.raises(RedcapError, match='"hba1c"'):
                proj.import_users([{"username": "bob", "forms": {"hba1c": code}}])
    finally:
        emu.stop()
