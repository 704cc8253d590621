"""`compliance alert` / `compliance alerts` (seed 004): the SAG module's alerts, their templates and
placeholders, reminders held back for the interval, SMTP (a real local server) or .eml files, the log,
and notices before expiry that change nothing."""

import email
import email.policy
import json
import socket

import pytest

from tests.apply.test_notify import smtp_server  # noqa: F401 - the fixture: aiosmtpd on 127.0.0.1
from tests.conftest import run_cli, write


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


D1, D3, D8, D9 = "2026-12-01", "2026-12-03", "2026-12-08", "2026-12-09"


def out_of_compliance(repo, cli):
    """Apply test, then move mona.mon (safety_monitor: review on forms) to a group allowing only read."""
    assert cli("apply", "--env", "test", "--yes", cwd=repo).code == 0
    staff = repo / "groups/staff.yaml"
    staff.write_text("".join(line for line in staff.read_text().splitlines(True) if "mona.mon" not in line))
    write(
        repo,
        "groups/limited.yaml",
        """\
        group:
          id: limited
          description: Monitoring training pending
          ceiling: {form_access: read}
          members:
            - {username: mona.mon, email: mona@hospital.example.org, name: Mona Monitor}
        """,
    )


def alerts_of(repo, cli, *more):
    r = cli("compliance", "alerts", "--env", "test", "--json", *more, cwd=repo)
    assert r.code == 0, r
    return r.json["alerts"]


def eml(repo, rel):
    return email.message_from_bytes((repo / rel).read_bytes(), policy=email.policy.default)


def test_files_the_log_and_the_listing(mini_repo, cli):
    out_of_compliance(mini_repo, cli)
    r = cli("compliance", "alert", "--env", "test", "--at", D1, "--json", cwd=mini_repo)
    assert r.code == 0, r
    doc = r.json
    assert doc["delivery"] == "file" and doc["skipped"] == [] and doc["expire"] == []
    kinds = [(a["kind"], a["to"], a["about"]) for a in doc["alerts"]]
    # to the user, and to the one person holding User Rights in HEART-01 (dina.dm, data manager)
    assert kinds == [("user_alert", "mona.mon", ["mona.mon"]), ("rights_holders_alert", "dina.dm", ["mona.mon"])]
    user = eml(mini_repo, doc["alerts"][0]["file"])
    assert user["To"] == "mona@hospital.example.org"
    assert user["Subject"] == "Heart outcomes: your user rights exceed what your training allows"
    body = user.get_content()
    assert "Dear Mona Monitor" in body and "group (limited)" in body and "- form_access: review (allowed: read)" in body
    assert "[sag-" not in body
    holder = eml(mini_repo, doc["alerts"][1]["file"]).get_content()
    assert "Dear Dina Manager" in holder
    assert "mona.mon  Mona Monitor  mona@hospital.example.org  limited  form_access review (allowed read)" in holder
    # the log holds both, written atomically as one JSON document
    log = json.loads((mini_repo / ".edcconf/alerts/test/log.json").read_text())
    assert log["format_version"] == 1 and [e["id"] for e in log["alerts"]] == [1, 2]
    assert alerts_of(mini_repo, cli) == log["alerts"]
    assert [e["to"] for e in alerts_of(mini_repo, cli, "--user", "dina.dm")] == ["dina.dm"]
    text = cli("compliance", "alerts", "--env", "test", cwd=mini_repo).out
    assert "Alert log of test: 2 alerts" in text and "rights_holders_alert" in text
    # the reports command is unchanged under the group
    r = cli("compliance", "--env", "test", "--json", cwd=mini_repo)
    assert r.code == 0 and [
        {k: row[k] for k in ("user", "group", "studies")} for row in r.json["reports"]["users_non_expired"]
    ] == [{"user": "mona.mon", "group": "limited", "studies": ["HEART-01"]}]
    assert cli("compliance", cwd=mini_repo).code == 1  # --env still required for the reports


def test_reminders_wait_for_the_interval(mini_repo, cli):
    out_of_compliance(mini_repo, cli)
    assert cli("compliance", "alert", "--env", "test", "--at", D1, cwd=mini_repo).code == 0
    r = cli("compliance", "alert", "--env", "test", "--at", D3, "--json", cwd=mini_repo)
    assert r.code == 0 and r.json["alerts"] == []
    assert r.json["skipped"] == [{"user": "mona.mon", "study": "HEART-01", "last": D1, "next": D8}]
    text = cli("compliance", "alert", "--env", "test", "--at", D3, cwd=mini_repo).out
    assert "held back: mona.mon in HEART-01 was told on 2026-12-01; next reminder from 2026-12-08" in text
    assert len(alerts_of(mini_repo, cli)) == 2
    r = cli("compliance", "alert", "--env", "test", "--at", D8, "--json", cwd=mini_repo)
    assert [a["kind"] for a in r.json["alerts"]] == ["user_reminder", "rights_holders_reminder"]
    assert "Reminder" in r.json["alerts"][0]["subject"]
    # a configured interval
    env = mini_repo / "environments/envs.yaml"
    env.write_text(
        env.read_text().replace("  - name: test\n", "  - name: test\n    alerts: {reminder_interval_days: 30}\n")
    )
    r = cli("compliance", "alert", "--env", "test", "--at", "2027-01-06", "--json", cwd=mini_repo)
    assert r.json["alerts"] == [] and r.json["skipped"][0]["next"] == "2027-01-07"
    assert (
        len(cli("compliance", "alert", "--env", "test", "--at", "2027-01-07", "--json", cwd=mini_repo).json["alerts"])
        == 2
    )


def test_sent_through_a_local_smtp_server(mini_repo, cli, smtp_server):  # noqa: F811
    port, inbox = smtp_server
    out_of_compliance(mini_repo, cli)
    env = mini_repo / "environments/envs.yaml"
    env.write_text(
        env.read_text().replace(
            "  - name: test\n",
            f"  - name: test\n    alerts: {{smtp: {{host: 127.0.0.1, port: {port}, from: edc@hospital.example.org}}}}\n",
        )
    )
    r = cli("compliance", "alert", "--env", "test", "--at", D1, "--json", cwd=mini_repo)
    assert r.code == 0, r
    assert r.json["delivery"] == "smtp" and all(a["delivered"] and a["file"] is None for a in r.json["alerts"])
    assert sorted(rcpt for rcpts, _ in inbox.messages for rcpt in rcpts) == [
        "dina@hospital.example.org",
        "mona@hospital.example.org",
    ]
    sent = [email.message_from_string(body, policy=email.policy.default) for _, body in inbox.messages]
    assert {m["From"] for m in sent} == {"edc@hospital.example.org"}
    assert any("- form_access: review (allowed: read)" in m.get_content() for m in sent)
    assert not (mini_repo / ".edcconf/alerts/test/mail").exists()
    assert [e["delivery"] for e in alerts_of(mini_repo, cli)] == ["smtp", "smtp"]
    # the environment variables win over the configuration: a closed port, so nothing is sent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    r = cli(
        "compliance",
        "alert",
        "--env",
        "test",
        "--at",
        D9,
        "--json",
        cwd=mini_repo,
        env={"EDCCONF_SMTP_PORT": str(closed)},
    )
    assert r.code == 1
    assert all(
        not a["delivered"] and a["file"] and "not sent through 127.0.0.1" in a["error"] for a in r.json["alerts"]
    )
    assert len(inbox.messages) == 2
    # an alert that could not be sent does not count: the next run (server back) sends it again
    r = cli("compliance", "alert", "--env", "test", "--at", D9, "--json", cwd=mini_repo)
    assert r.code == 0 and [a["kind"] for a in r.json["alerts"]] == ["user_reminder", "rights_holders_reminder"]
    assert len(inbox.messages) == 4


def test_smtp_credentials_are_never_read_from_the_configuration(mini_repo, cli):
    env = mini_repo / "environments/envs.yaml"
    env.write_text(
        env.read_text().replace(
            "  - name: test\n", "  - name: test\n    alerts: {smtp: {host: mail.example.org, password: hunter2}}\n"
        )
    )
    r = cli("validate", "--json", cwd=mini_repo)
    assert r.code == 1 and [e["code"] for e in r.json["errors"]] == ["schema"]
    assert "password" in r.json["errors"][0]["message"]


def test_an_unknown_placeholder_is_an_error_at_its_line(mini_repo, cli):
    write(
        mini_repo, "templates/alerts/user_alert.txt.j2", "Subject: [sag-project-title]\n\nHello [sag-user-fulname],\n"
    )
    r = cli("validate", "--json", cwd=mini_repo)  # the pull request that brings it fails
    assert r.code == 1 and [(e["code"], e["source"]) for e in r.json["errors"]] == [
        ("alert-placeholder", "templates/alerts/user_alert.txt.j2:3")
    ]
    out_of_compliance(mini_repo, cli)
    r = cli("compliance", "alert", "--env", "test", "--at", D1, cwd=mini_repo)
    assert r.code == 1
    assert (
        "templates/alerts/user_alert.txt.j2:3:7: error[alert-placeholder]: unknown placeholder "
        "[sag-user-fulname]; did you mean [sag-user-fullname]?"
    ) in r.err
    assert not (mini_repo / ".edcconf/alerts").exists()  # nothing sent, written or logged
    # the expiry date exists only in the notices before expiry
    write(mini_repo, "templates/alerts/user_alert.txt.j2", "Subject: x\n\nby [sag-expiration-date]\n")
    r = cli("compliance", "alert", "--env", "test", "--at", D1, cwd=mini_repo)
    assert r.code == 1 and "[sag-expiration-date] is only available in the notices before expiry" in r.err


def test_a_template_override_renders_in_a_sandbox(mini_repo, cli):
    out_of_compliance(mini_repo, cli)
    limited = mini_repo / "groups/limited.yaml"
    limited.write_text(limited.read_text().replace("name: Mona Monitor", 'name: "Mona {{ 7 * 7 }}"'))
    write(
        mini_repo,
        "templates/alerts/user_alert.txt.j2",
        """\
        Subject: Action needed in [sag-project-title] ({{ environment }})
        Hi [sag-user-fullname] ([sag-user]),
        {% for r in users[0].rights %}* {{ r.right }} is {{ r.granted }}, at most {{ r.allowed }}
        {% endfor %}""",
    )
    r = cli("compliance", "alert", "--env", "test", "--at", D1, "--json", cwd=mini_repo)
    assert r.code == 0, r
    first = r.json["alerts"][0]
    assert first["subject"] == "Action needed in Heart outcomes (test)"
    body = eml(mini_repo, first["file"]).get_content()
    # a value is text, never template: the name's braces are not evaluated
    assert body == "Hi Mona {{ 7 * 7 }} (mona.mon),\n* form_access is review, at most read\n"
    # the other kinds keep their defaults
    assert "Dear Dina Manager" in eml(mini_repo, r.json["alerts"][1]["file"]).get_content()
    # code is refused: the sandbox, at the template's line
    write(mini_repo, "templates/alerts/user_alert.txt.j2", "Subject: x\n\n{{ environment.__class__.__mro__ }}\n")
    r = cli("compliance", "alert", "--env", "test", "--at", D3, cwd=mini_repo)
    assert r.code == 1 and "templates/alerts/user_alert.txt.j2:3: error[alert-template]" in r.err and "unsafe" in r.err
    write(mini_repo, "templates/alerts/user_alert.txt.j2", "Subject: x\n\n{% if %}\n")
    r = cli("compliance", "alert", "--env", "test", "--at", D3, cwd=mini_repo)
    assert r.code == 1 and "templates/alerts/user_alert.txt.j2:3: error[alert-template]" in r.err
    write(mini_repo, "templates/alerts/user_alert.txt.j2", "Subject: x\n\n{{ nobody }}\n")
    r = cli("compliance", "alert", "--env", "test", "--at", D3, cwd=mini_repo)
    assert r.code == 1 and "'nobody' is undefined" in r.err
    assert len(alerts_of(mini_repo, cli)) == 2


def test_notice_before_expiry_changes_nothing(mini_repo, cli):
    out_of_compliance(mini_repo, cli)
    state = mini_repo / ".edcconf/state/test.json"
    before = state.read_bytes()
    r = cli("compliance", "alert", "--env", "test", "--at", D1, "--expire-on", "2026-12-31", cwd=mini_repo)
    assert r.code == 0, r
    assert "notice of expiry to the user mona.mon" in r.out
    assert (
        "studies/heart.yaml:20: mona.mon (safety_monitor in HEART-01): add `expires: 2026-12-31` to this grant" in r.out
    )
    entries = alerts_of(mini_repo, cli)
    assert [(e["kind"], e["expiration_date"]) for e in entries] == [
        ("user_expiration", "2026-12-31"),
        ("rights_holders_expiration", "2026-12-31"),
    ]
    assert "will expire on 2026-12-31" in eml(mini_repo, entries[0]["file"])["Subject"]
    assert "will expire on 2026-12-31" in eml(mini_repo, entries[1]["file"]).get_content()
    # the applied state is what it was: expiry is a reviewed change (plan, apply), never a side effect
    assert state.read_bytes() == before
    assert cli("show", "--env", "test", "--json", cwd=mini_repo).json["serial"] == 1
    # default date: alerts.expiration_notice_days ahead (14); a second notice waits for the interval too
    r = cli(
        "compliance", "alert", "--env", "test", "--at", "2026-12-02", "--expire", "--dry-run", "--json", cwd=mini_repo
    )
    assert r.json["alerts"] == [] and r.json["skipped"][0]["last"] == D1


def test_dry_run_writes_nothing(mini_repo, cli):
    out_of_compliance(mini_repo, cli)
    r = cli("compliance", "alert", "--env", "test", "--at", D1, "--dry-run", "--json", cwd=mini_repo)
    assert r.code == 0 and len(r.json["alerts"]) == 2 and r.json["dry_run"]
    assert not (mini_repo / ".edcconf/alerts").exists()
    r = cli("compliance", "alert", "--env", "test", "--at", D1, "--expire", "--dry-run", "--json", cwd=mini_repo)
    assert r.json["expire"][0]["expires"] == "2026-12-15"


def test_a_damaged_log_stops_the_alerts(mini_repo, cli):
    out_of_compliance(mini_repo, cli)
    write(mini_repo, ".edcconf/alerts/test/log.json", "{not json")
    r = cli("compliance", "alert", "--env", "test", "--at", D1, cwd=mini_repo)
    assert r.code == 1 and "alert-log-invalid" not in r.out and "is not an alert log" in r.err
    r = cli("compliance", "alerts", "--env", "test", "--json", cwd=mini_repo)
    assert r.code == 1 and r.json["errors"][0]["code"] == "alert-log-invalid"


@pytest.mark.parametrize("kind", ["user_alert", "rights_holders_reminder", "user_expiration"])
def test_the_defaults_use_only_their_audiences_placeholders(kind):
    from pathlib import Path

    from edcconf.alerts.templates import PACKAGE_DIR, check_placeholders

    text = (PACKAGE_DIR / f"{kind}.txt.j2").read_text()
    assert "[sag-" in text and check_placeholders(text, kind, "x") == []
    assert check_placeholders("[sag-users-table]\n", "user_alert", "t")[0].code == "alert-placeholder"
    assert check_templates_clean(Path("/nonexistent-config"))


def check_templates_clean(root):
    from edcconf.alerts.templates import check_templates

    return check_templates(root) == []
