"""Vault Study Status per stage (003): the effective value of a disabled grant, what expands from it, the
row written for it, the import entry read from a Disabled row, and the rule for other systems."""

from __future__ import annotations

from pathlib import Path

from edcconf.providers.bulk import vault_users
from edcconf.resolve.effective import expand_grant, usable

ROLE = {
    "base_role": "crc",
    "forms": {"dosing": "edit", "labs": "read"},
    "close_queries": ["dosing"],
    "sdv": ["labs"],
    "rights": {"form_access": "edit"},
}


def _state(**grant_extra) -> dict:
    grant = {
        "study": "ONC-01",
        "user": "cara",
        "role": "crc",
        "base_role": "crc",
        "sites": ["BOS"],
        "site_access": "sites",
        "expires": None,
        "role_ref": "ONC-01/crc#1",
        **grant_extra,
    }
    return {
        "roles": {"ONC-01/crc#1": ROLE},
        "grants": {"ONC-01/cara": grant},
        "accounts": {"cara": {"name": "Cara Coordinator", "email": "cara@example.org", "status": "active"}},
        "sites": {"BOS": {"country": "US", "timezone": "America/New_York"}},
        "studies": {"ONC-01": {"sites": ["BOS", "LYON"]}},
    }


def test_a_disabled_grant_expands_to_no_form_level_and_no_ability():
    on, off = _state(), _state(study_status="disabled")
    assert usable(on["grants"]["ONC-01/cara"]) and not usable(off["grants"]["ONC-01/cara"])
    enabled = expand_grant(on, on["grants"]["ONC-01/cara"])
    disabled = expand_grant(off, off["grants"]["ONC-01/cara"])
    assert enabled["forms"] == {"dosing": "edit", "labs": "read"} and enabled["close_queries"] == ["dosing"]
    assert disabled["forms"] == {"dosing": "none", "labs": "none"}
    assert disabled["close_queries"] == disabled["sdv"] == [] and disabled["study_status"] == "disabled"
    assert disabled["role"] == "crc" and disabled["sites"] == ["BOS"]  # kept on record
    assert ROLE["forms"] == {"dosing": "edit", "labs": "read"}  # the shared role value is untouched


def test_the_vault_row_of_a_disabled_grant_is_disabled_with_its_role_and_sites():
    for extra, status in (({}, "Enabled"), ({"study_status": "disabled"}, "Disabled")):
        state = _state(**extra)
        (row,) = vault_users("test", state, list(state["grants"].values()))
        assert (row.user_name, row.study_status, row.site_access, row.study_role) == (
            "cara",
            status,
            ("BOS",),
            "CDMS Clinical Research Coordinator",
        )


def test_a_disabled_row_is_imported_as_a_disabled_entry(tmp_path: Path):
    from edcconf.imports.vault import access_entries
    from edcconf.interchange.vault import VaultUser
    from edcconf.model import Study

    study = Study(
        id="ONC-01",
        name="x",
        system="vault",
        status=None,
        protocol=None,
        environments=("test",),
        sites=("BOS", "LYON"),
        participant_id_template=None,
        tags=(),
        forms=(),
        roles={},
        access=(),
        redcap={},
        loc=None,
    )
    base = dict(
        study_environment="test",
        last_name="C",
        first_name="Cara",
        security_profile="EDC User",
        study_role="CDMS Clinical Research Coordinator",
        company="",
        email="cara@example.org",
        timezone="UTC",
        site_access=("BOS",),
        country_access=(),
        title="",
        language="en",
        locale="en_US",
        security_policy="Basic",
    )
    rows = (
        VaultUser(user_name="cara", study_status="Disabled", line=2, file="v.csv", **base),
        VaultUser(user_name="ivan", study_status="Enabled", line=3, file="v.csv", **base),
    )
    entries, problems = access_entries(study, rows, "v.csv")
    assert entries["cara"] == {
        "user": "cara",
        "role": "crc",
        "environments": "all",
        "sites": ["BOS"],
        "study_status": "disabled",
    }
    assert "study_status" not in entries["ivan"]
    assert [(p.code, p.loc.line) for p in problems] == [("import-disabled", 2)]
