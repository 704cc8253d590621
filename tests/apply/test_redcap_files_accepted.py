"""A User Rights file edcconf writes is one REDCap accepts, at the version the target states: before and
after REDCap 15.6 (per-form codes), uploaded to the emulator as CSV and read back by edcconf's reader."""

from __future__ import annotations

import pytest
from redcap import Project

from edcconf.emulator.redcap import RedcapEmulator
from edcconf.interchange.redcap_users import read_redcap_users
from tests.conftest import REPO, copy_config, run_edcconf

FORMS = ["demographics", "hba1c", "medications", "adverse_events"]


@pytest.mark.parametrize("version", ["14.5.0", "15.6.1"])
def test_the_user_rights_upload_is_accepted_by_the_emulator_at_the_targets_version(tmp_path, version):
    root = copy_config(REPO, tmp_path / "example")
    env = root / "environments/test.yaml"
    env.write_text(
        env.read_text().replace(
            "redcap: {provider: csv, out: build/test/redcap}",
            f'redcap: {{provider: csv, out: build/test/redcap, version: "{version}"}}',
        )
    )
    assert run_edcconf("export", "files", "--env", "test", "-o", tmp_path / "out", cwd=root).code == 0
    data = (tmp_path / "out/DIAB-03/redcap-users.csv").read_bytes()
    parsed = read_redcap_users(data, "redcap-users.csv", version=version)
    assert parsed.ok, parsed.diagnostics
    assert b"random_setup" in data and (b":130" in data) == (version == "15.6.1")  # both have randomisation
    with RedcapEmulator(version=version) as emu:
        token = emu.add_project(project_id=12, title="Registry", forms=FORMS, dags=[("mgh", "MGH"), ("ucsf", "UCSF")])
        project = Project(emu.url, token)
        count = project.import_users(data.decode(), import_format="csv")
        assert int(count) == len(parsed.rows)
        live = {u["username"]: u for u in project.export_users()}
        for row in parsed.rows:
            assert live[row.username]["forms"] == dict(row.forms)
            assert live[row.username]["data_access_group"] == row.data_access_group
            assert all(live[row.username][k] == v for k, v in row.rights.items())
