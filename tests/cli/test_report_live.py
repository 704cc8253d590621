"""`report --live` against the REDCap API emulator on 127.0.0.1: the pages show what REDCap holds (a
change made by hand in REDCap, a user edcconf never declared), say so, and a study whose live access
cannot be read fails the report unless --allow-unread, which marks it NOT read."""

from __future__ import annotations

import json

import pytest
from redcap import Project

from edcconf.emulator.redcap import RedcapEmulator
from tests.apply.test_redcap_end_to_end import CONFIG as ONE_STUDY
from tests.apply.test_redcap_end_to_end import TOKEN_VAR
from tests.browser import dump_dom, keep_screenshot
from tests.conftest import run_edcconf, write

SECOND_VAR = "EDCCONF_TEST_REDCAP_TOKEN_ONC"
SECOND = """
    study:
      id: ONC-05
      name: Oncology registry
      system: redcap
      redcap: {project_id: 13, token_env: EDCCONF_TEST_REDCAP_TOKEN_ONC}
      protocol: {pi: omar.haddad}
      environments: [test]
      sites: [MGH]
      forms:
        - {id: baseline}
      access:
        - {user: priya.nair, role: data_manager, environments: all, sites: all}
    """


# every test here opens the report in Chromium: `make test-long`
pytestmark = pytest.mark.long


@pytest.fixture
def live_repo(tmp_path):
    with RedcapEmulator(version="15.6.1") as emu:
        tokens = {
            TOKEN_VAR: emu.add_project(
                project_id=12, title="Type 2 diabetes registry", forms=["demographics", "hba1c", "adverse_events"]
            ),
            SECOND_VAR: emu.add_project(project_id=13, title="Oncology registry", forms=["baseline"]),
        }
        for rel, text in ONE_STUDY.items():
            write(tmp_path, rel, text.format(url=emu.url) if "{url}" in text else text)
        write(tmp_path, "studies/onc.yaml", SECOND)
        assert run_edcconf("apply", "--env", "test", "--yes", cwd=tmp_path, env=tokens).code == 0
        dags = {
            d["data_access_group_name"]: d["unique_group_name"]
            for d in Project(emu.url, tokens[TOKEN_VAR]).export_dags()
        }
        # by hand in REDCap: read only on hba1c for omar, and a user edcconf never declared
        Project(emu.url, tokens[TOKEN_VAR]).import_users(
            [
                {
                    "username": "omar.haddad",
                    "data_access_group": dags["MGH"],
                    "forms": {"demographics": 130, "hba1c": 129, "adverse_events": 130},
                },
                {"username": "eve.stray", "user_rights": 1},
            ]
        )
        yield tmp_path, tokens


def _rows(doc, sid):
    return {r["user"]: r for s in doc["studies"] if s["id"] == sid for r in s["rows"]}


def test_live_report_shows_what_redcap_holds(live_repo):
    root, tokens = live_repo
    r = run_edcconf("report", "--env", "test", "--live", "-o", str(root / "live"), cwd=root, env=tokens)
    assert r.code == 0, r
    doc = json.loads((root / "live" / "test.json").read_text())
    assert doc["source"] == "live"
    diab = _rows(doc, "DIAB-03")
    assert set(diab) == {"omar.haddad", "priya.nair", "sam.okafor", "eve.stray"}
    assert diab["omar.haddad"]["forms"]["hba1c"] == "read" and diab["omar.haddad"]["sites"] == ["MGH"]
    assert diab["eve.stray"]["note"] == "not declared in the configuration"
    assert set(_rows(doc, "ONC-05")) == {"priya.nair"}
    declared = run_edcconf("report", "--env", "test", "-o", str(root / "declared"), cwd=root, env=tokens)
    assert declared.code == 0
    assert (
        _rows(json.loads((root / "declared" / "test.json").read_text()), "DIAB-03")["omar.haddad"]["forms"]["hba1c"]
        == "edit"
    )
    overview = dump_dom(root / "live" / "test" / "index.html")
    assert overview.console == [] and 'data-source="live"' in overview.dom
    assert "Live: what the systems hold" in overview.dom
    assert 'id="not-read"' not in overview.dom
    study = dump_dom(root / "live" / "test" / "studies" / "DIAB-03.html")
    assert study.console == [] and 'data-user="eve.stray"' in study.dom and "Live: what the systems hold" in study.dom
    keep_screenshot(root / "live" / "test" / "index.html", "report-live-overview")


def test_a_study_that_cannot_be_read_fails_closed(live_repo):
    root, tokens = live_repo
    blind = {**tokens, SECOND_VAR: ""}
    refused = run_edcconf("report", "--env", "test", "--live", "-o", str(root / "refused"), cwd=root, env=blind)
    assert refused.code == 1 and "ONC-05" in refused.err and "DIAB-03" not in refused.err, refused
    assert "live-unread" in refused.err and not (root / "refused").exists()
    allowed = run_edcconf(
        "report", "--env", "test", "--live", "--allow-unread", "-o", str(root / "out"), cwd=root, env=blind
    )
    assert allowed.code == 0, allowed
    assert "ONC-05 NOT read" in allowed.err
    doc = json.loads((root / "out" / "test.json").read_text())
    onc = next(s for s in doc["studies"] if s["id"] == "ONC-05")
    assert onc["live"] == "unread" and onc["rows"] == [] and doc["overview"]["totals"]["not_read"] == ["ONC-05"]
    assert set(_rows(doc, "DIAB-03")) >= {"omar.haddad", "eve.stray"}  # the study read is still shown
    overview = dump_dom(root / "out" / "test" / "index.html").dom
    assert 'id="not-read"' in overview and "NOT read</span>" in overview
    page = dump_dom(root / "out" / "test" / "studies" / "ONC-05.html").dom
    assert 'id="not-read"' in page and 'id="all-total">0<' in page
