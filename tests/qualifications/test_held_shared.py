"""People who hold the same qualifications with the same dates share one mapping of them (a one-change
plan rebuilds every person), yet each message still points at the person's own line, and a date that is
not a real day is reported for every person who wrote it."""

from __future__ import annotations

from datetime import date

from edcconf.diagnostics import UserError
from edcconf.pipeline import load_desired
from tests.conftest import write
from tests.helpers import edit

TODAY = date(2026, 11, 24)


def _held(root, user: str, text: str) -> None:
    edit(root, "groups/staff.yaml", f"{{username: {user},", f"{{username: {user}, qualifications: {text},")


def test_equal_qualifications_are_shared_and_each_keeps_its_line(mini_repo):
    write(mini_repo, "environments/qualifications.yaml", "qualifications:\n  - {id: gcp, name: GCP}\n")
    same = "{gcp: {completed: 2025-01-01, expires: 2028-01-01}, gpc: {completed: 2025-01-01}}"
    for user in ("ivan.inv", "mona.mon"):
        _held(mini_repo, user, same)
    _held(mini_repo, "dina.dm", "{gcp: {completed: 2025-01-01, expires: 2029-01-01}}")
    try:
        load_desired(mini_repo, TODAY)
        raise AssertionError("the unknown qualification gpc was not reported")
    except UserError as exc:
        found = [(d.code, str(d.loc), d.message) for d in exc.diagnostics.errors]
    # gpc is unknown: one error per holder, at each holder's own line (7 and 8), not the first one's
    assert [(code, where) for code, where, _ in found] == [
        ("unknown-qualification", "groups/staff.yaml:7"),
        ("unknown-qualification", "groups/staff.yaml:8"),
    ]
    assert "ivan.inv holds unknown qualification 'gpc'" in found[0][2]
    assert "mona.mon holds unknown qualification 'gpc'" in found[1][2]

    write(mini_repo, "environments/qualifications.yaml", "qualifications:\n  - {id: gcp}\n  - {id: gpc}\n")
    people = load_desired(mini_repo, TODAY).model.people
    assert people["ivan.inv"].qualifications is people["mona.mon"].qualifications  # one mapping for both
    assert people["dina.dm"].qualifications is not people["ivan.inv"].qualifications
    assert people["dina.dm"].qualifications["gcp"].expires == date(2029, 1, 1)
    assert people["mona.mon"].qualification_loc("gpc").line == 8


def test_a_date_that_is_no_day_is_reported_for_each_person(mini_repo):
    write(mini_repo, "environments/qualifications.yaml", "qualifications:\n  - {id: gcp}\n")
    for user in ("ivan.inv", "mona.mon"):
        _held(mini_repo, user, "{gcp: {completed: 2025-02-30}}")  # the pattern holds; the day does not
    try:
        load_desired(mini_repo, TODAY)
        raise AssertionError("2025-02-30 was taken for a date")
    except UserError as exc:
        lines = sorted(str(d.loc) for d in exc.diagnostics.errors if "2025-02-30" in d.message)
    assert lines == ["groups/staff.yaml:7", "groups/staff.yaml:8"]
