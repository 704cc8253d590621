"""`state list`, `state show` and `state pull`: read what an environment's applied state records, by address,
as Terraform's state commands do."""
from __future__ import annotations

import json


def test_list_show_and_pull_after_an_apply(mini_repo, cli):
    assert cli("state", "list", "--env", "test", cwd=mini_repo).out == ""        # nothing applied yet
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    listed = cli("state", "list", "--env", "test", cwd=mini_repo)
    lines = listed.out.splitlines()
    assert listed.code == 0 and "account.cara.crc" in lines and "grant.HEART-01/cara.crc" in lines
    assert "site.LYON" in lines and any(line.startswith("role.HEART-01/crc#") for line in lines)
    as_json = cli("state", "list", "--env", "test", "--json", cwd=mini_repo).json
    assert as_json["serial"] == 1 and as_json["addresses"] == lines

    shown = cli("state", "show", "--env", "test", "grant.HEART-01/cara.crc", cwd=mini_repo).json
    assert shown["value"]["sites"] == ["BOS"] and shown["source"] == "studies/heart.yaml:18"

    missing = cli("state", "show", "--env", "test", "grant.HEART-01/cara.cr", cwd=mini_repo)
    assert missing.code == 1 and "did you mean 'grant.HEART-01/cara.crc'" in missing.err
    assert "Traceback" not in missing.err

    pulled = json.loads(cli("state", "pull", "--env", "test", cwd=mini_repo).out)
    stored = json.loads((mini_repo / ".edcconf" / "state" / "test.json").read_text())
    assert pulled["serial"] == stored["serial"] == 1 and pulled["effective"] == stored["effective"]
