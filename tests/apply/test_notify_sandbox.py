"""Notification templates come from the configuration repository: they format text and never run code."""

from tests.conftest import write


def test_a_notification_template_cannot_run_code(mini_repo, cli):
    write(
        mini_repo,
        "templates/notifications/access_changed.txt.j2",
        "Subject: x\n{{ cycler.__init__.__globals__.os.system('touch PWNED') }}\n",
    )
    r = cli("apply", "--env", "test", "--yes", cwd=mini_repo)
    assert r.code == 0, r  # the apply happened; the notifications are what failed, and it says so
    assert not (mini_repo / "PWNED").exists()
    assert "warning: notifications were not written" in r.err and "SecurityError" in r.err
