"""Reminders before a required qualification expires, through the alert templates and log: to the person
and the study's PI, within notify_days, once per reminder interval, none before notify_days."""

from __future__ import annotations

from datetime import timedelta
from email import policy
from email.parser import BytesParser

from tests.qualifications.test_plan import LAPSES, _qualify


def test_the_person_and_the_pi_are_reminded_ahead(mini_repo, cli):
    _qualify(mini_repo)
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    early = cli(
        "compliance",
        "alert",
        "--env",
        "test",
        "--qualifications",
        "--at",
        str(LAPSES - timedelta(days=31)),
        "--json",
        cwd=mini_repo,
    )
    assert early.code == 0 and early.json["alerts"] == [], early
    at = str(LAPSES - timedelta(days=10))
    r = cli("compliance", "alert", "--env", "test", "--qualifications", "--at", at, "--json", cwd=mini_repo)
    assert r.code == 0, r
    sent = [(a["kind"], a["to"], a["about"], a["expiration_date"]) for a in r.json["alerts"]]
    assert sent == [
        ("user_qualification_expiration", "cara.crc", ["cara.crc"], str(LAPSES)),
        ("pi_qualification_expiration", "ivan.inv", ["cara.crc"], str(LAPSES)),
    ]
    mail = BytesParser(policy=policy.default).parse((mini_repo / r.json["alerts"][0]["file"]).open("rb"))
    assert r.json["alerts"][0]["subject"] == f"Heart outcomes: your Good Clinical Practice training expires on {LAPSES}"
    assert "your access to the study is suspended the day after" in mail.get_content()
    pi = BytesParser(policy=policy.default).parse((mini_repo / r.json["alerts"][1]["file"]).open("rb"))
    assert "cara.crc" in pi.get_content()
    # within the reminder interval: held back; the compliance alerts' own log reading is not affected
    again = cli("compliance", "alert", "--env", "test", "--qualifications", "--at", at, "--json", cwd=mini_repo)
    assert again.json["alerts"] == [] and again.json["skipped"][0]["user"] == "cara.crc"
    text = cli("compliance", "alert", "--env", "test", "--qualifications", "--at", at, "--dry-run", cwd=mini_repo).out
    assert "held back: cara.crc in HEART-01" in text
