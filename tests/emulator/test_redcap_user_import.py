"""User imports as REDCap treats them: per-form rights a row lists replace all of them."""

import pytest
from redcap import Project

from .conftest import TOKEN, make


@pytest.mark.parametrize("version, none", [("14.5.0", 0), ("15.6.0", 128)])
def test_instruments_a_forms_cell_leaves_out_lose_access(version, none):
    emu = make(version)
    try:
        proj = Project(emu.url, TOKEN)
        edit = 1 if none == 0 else 130
        proj.import_users([{"username": "bob", "design": 1,
                            "forms": {"demographics": edit, "hba1c": edit},
                            "forms_export": {"demographics": 1, "hba1c": 2}}])
        proj.import_users([{"username": "bob", "forms": {"hba1c": edit},
                            "forms_export": {"demographics": 3}}])
        user = proj.export_users()[0]
        assert user["forms"] == {"demographics": none, "hba1c": edit}
        assert user["forms_export"] == {"demographics": 3, "hba1c": 0}
        assert user["design"] == 1                       # other omitted fields keep their values
        # the same through CSV, where forms is one "form:value,..." cell
        proj.import_users("username,forms\nbob,demographics:%d\n" % edit, import_format="csv")
        user = proj.export_users()[0]
        assert user["forms"] == {"demographics": edit, "hba1c": none}
        assert user["forms_export"] == {"demographics": 3, "hba1c": 0}   # not sent: kept
    finally:
        emu.stop()


def test_a_row_without_forms_keeps_the_per_form_rights(proj):
    proj.import_users([{"username": "bob", "forms": {"demographics": 2, "hba1c": 1},
                        "forms_export": {"hba1c": 1}}])
    proj.import_users([{"username": "bob", "api_export": 1}])
    user = proj.export_users()[0]
    assert user["forms"] == {"demographics": 2, "hba1c": 1}
    assert user["forms_export"] == {"demographics": 0, "hba1c": 1}
