"""-v / -vv and EDCCONF_LOG: stage logs on standard error only (stdout and --json stay clean), nothing by
default, an unknown level said once and ignored, and no secret in a log line."""

from __future__ import annotations

import json


def test_quiet_by_default_and_verbose_on_stderr(mini_repo, cli):
    quiet = cli("validate", cwd=mini_repo)
    assert "edcconf.pipeline" not in quiet.err
    loud = cli("-vv", "validate", "--json", cwd=mini_repo)
    assert loud.code == 0 and json.loads(loud.out)["errors"] == []  # stdout is still only the JSON
    assert "DEBUG edcconf.pipeline: validate:" in loud.err and "INFO edcconf.pipeline: loaded" in loud.err
    info = cli("-v", "validate", cwd=mini_repo)
    assert "INFO edcconf.pipeline" in info.err and "DEBUG" not in info.err


def test_edcconf_log_and_an_unknown_level(mini_repo, cli):
    assert "DEBUG edcconf.pipeline" in cli("validate", cwd=mini_repo, env={"EDCCONF_LOG": "DEBUG"}).err
    odd = cli("validate", cwd=mini_repo, env={"EDCCONF_LOG": "loud"})
    assert odd.code == 0 and "EDCCONF_LOG='loud' is not one of" in odd.err


def test_apply_logs_each_change_without_secrets(mini_repo, cli):
    result = cli(
        "-vv",
        "apply",
        "--env",
        "test",
        "--yes",
        cwd=mini_repo,
        env={"EDCCONF_PG_DSN": "postgresql://edc:s3cret-pw@db.example.org/edc"},
    )
    assert result.code == 0
    assert "DEBUG edcconf.apply: create grant HEART-01/cara.crc" in result.err
    assert "s3cret-pw" not in result.err + result.out
