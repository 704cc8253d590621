"""Notifications after apply: files by default, SMTP to a local server when configured, editable templates."""

import socket

import pytest

from tests.conftest import run_cli, write


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


AT = ["--at", "2026-11-24"]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def add_external(repo):
    write(
        repo,
        "groups/ext.yaml",
        """\
        group:
          id: ext
          ceiling: {form_access: review}
          members:
            - {username: eve.ext, email: eve@cro.example.com, name: Eve External, expires: 2026-12-31,
               external: {organization: Acme CRO, agreement_signed: 2026-01-01, basis: sponsor, requested_by: dina.dm}}
        """,
    )
    heart = repo / "studies/heart.yaml"
    heart.write_text(
        heart.read_text().replace("  access:\n", "  access:\n    - {user: eve.ext, role: monitor, sites: all}\n")
    )


def test_files_by_default_with_the_people_concerned(mini_repo, cli):
    add_external(mini_repo)
    r = cli("apply", "--env", "test", "--yes", "--reason", "PR 7", cwd=mini_repo, env={"EDCCONF_ACTOR": "alice"})
    assert r.code == 0, r
    folder = mini_repo / "build/test/notifications/0001"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "cara.crc-access_changed.txt",
        "dina.dm-access_changed.txt",
        "dina.dm-external_account-eve.ext.txt",
        "dina.dm-external_agreement-eve.ext.txt",
        "eve.ext-access_changed.txt",
        "ivan.inv-access_changed.txt",
        "ivan.inv-external_account-eve.ext.txt",
        "mona.mon-access_changed.txt",
    ]
    mona = (folder / "mona.mon-access_changed.txt").read_text()
    assert "To: mona@hospital.example.org" in mona and "+ adverse_events: review" in mona
    assert "Approved by alice (PR 7); recorded as version 1." in mona
    notice = (folder / "ivan.inv-external_account-eve.ext.txt").read_text()
    assert "Subject: External account eve.ext created in test" in notice and "(Acme CRO)" in notice
    assert "access to HEART-01" in notice
    # 000 step 4: the requester (and the EDC admins: none here) hear that the agreement is recorded
    agreement = (folder / "dina.dm-external_agreement-eve.ext.txt").read_text()
    assert "Subject: External User Agreement of eve.ext recorded in test" in agreement
    assert "signed the External User Agreement on 2026-01-01" in agreement and "requested by dina.dm" in agreement


def test_a_pi_hears_of_each_new_external_account_in_its_own_message(mini_repo, cli):
    """Two external people granted in one apply: the PI and the requester get a message for each (one
    file each: a shared name used to keep only the last), and nothing is left beside the folder."""
    add_external(mini_repo)
    ext = mini_repo / "groups/ext.yaml"
    ext.write_text(
        ext.read_text()
        + """\
    - {username: fred.ext, email: fred@cro.example.com, name: Fred External, expires: 2026-12-31,
       external: {organization: Acme CRO, agreement_signed: 2026-01-02, basis: sponsor, requested_by: dina.dm}}
"""
    )
    heart = mini_repo / "studies/heart.yaml"
    heart.write_text(
        heart.read_text().replace("  access:\n", "  access:\n    - {user: fred.ext, role: monitor, sites: all}\n")
    )
    r = cli("apply", "--env", "test", "--yes", cwd=mini_repo)
    assert r.code == 0, r
    folder = mini_repo / "build/test/notifications/0001"
    for who in ("ivan.inv", "dina.dm"):
        eve = (folder / f"{who}-external_account-eve.ext.txt").read_text()
        fred = (folder / f"{who}-external_account-fred.ext.txt").read_text()
        assert "eve.ext" in eve and "fred.ext" not in eve
        assert "fred.ext" in fred and "eve.ext" not in fred
    assert sorted(p.name for p in folder.parent.iterdir()) == ["0001"]  # no temporary folder left


def test_sent_through_a_local_smtp_server(mini_repo, cli, smtp_server):
    port, inbox = smtp_server
    add_external(mini_repo)
    r = cli(
        "apply",
        "--env",
        "test",
        "--yes",
        cwd=mini_repo,
        env={"EDCCONF_SMTP_HOST": "127.0.0.1", "EDCCONF_SMTP_PORT": str(port), "EDCCONF_SMTP_FROM": "edc@x.org"},
    )
    assert r.code == 0 and "warning" not in r.err, r
    recipients = sorted(rcpt for rcpts, _ in inbox.messages for rcpt in rcpts)
    assert recipients == sorted(
        [
            "cara@hospital.example.org",
            "dina@hospital.example.org",
            "dina@hospital.example.org",
            "dina@hospital.example.org",
            "eve@cro.example.com",
            "ivan@hospital.example.org",
            "ivan@hospital.example.org",
            "mona@hospital.example.org",
        ]
    )
    assert any("Subject: External account eve.ext created in test" in body for _, body in inbox.messages)
    # a revoke later is announced too
    heart = mini_repo / "studies/heart.yaml"
    heart.write_text(
        heart.read_text().replace("    - {user: cara.crc, role: crc, environments: all, sites: [BOS]}\n", "")
    )
    before = len(inbox.messages)
    assert (
        cli(
            "apply",
            "--env",
            "test",
            "--yes",
            cwd=mini_repo,
            env={"EDCCONF_SMTP_HOST": "127.0.0.1", "EDCCONF_SMTP_PORT": str(port)},
        ).code
        == 0
    )
    (rcpts, body) = inbox.messages[before]
    assert rcpts == ["cara@hospital.example.org"] and "access removed" in body and "- contact_info: edit" in body


def test_smtp_down_keeps_the_apply_and_the_files(mini_repo, cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    r = cli(
        "apply",
        "--env",
        "test",
        "--yes",
        cwd=mini_repo,
        env={"EDCCONF_SMTP_HOST": "127.0.0.1", "EDCCONF_SMTP_PORT": str(port)},
    )
    assert r.code == 0 and "notifications could not be sent" in r.err
    assert (mini_repo / "build/test/notifications/0001/cara.crc-access_changed.txt").exists()


def test_templates_are_editable_in_the_configuration(mini_repo, cli):
    write(
        mini_repo,
        "templates/notifications/access_changed.txt.j2",
        "Subject: Accès modifié ({{ environment }})\nBonjour {{ user_fullname }}, {{ changes | length }} changement(s).\n",
    )
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    text = (mini_repo / "build/test/notifications/0001/cara.crc-access_changed.txt").read_text()
    assert "Subject: Accès modifié (test)" in text and "Bonjour Cara Coordinator, 1 changement(s)." in text
