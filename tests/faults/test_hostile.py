"""Hostile conditions: a full disk, planted secrets, spreadsheet formulas."""

import csv
import errno
import os

import pytest

from edcconf.diagnostics import UserError
from edcconf.state import LocalBackend, StateRecord, next_record
from tests.conftest import write

SECRET = "sup3r-s3cret-t0ken-4F2A"


def test_full_disk_gives_a_clear_error_and_leaves_the_state(tmp_path, monkeypatch):
    backend = LocalBackend(tmp_path, "test")
    backend.write(next_record(StateRecord("test"), {}, {}, None), expected_serial=0)
    before = backend.path.read_bytes()
    real_write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(UserError) as exc:
        backend.write(next_record(backend.read(), {}, {}, None), expected_serial=1)
    monkeypatch.setattr(os, "write", real_write)
    assert exc.value.code == "state-write" and "No space left on device" in exc.value.message
    assert backend.path.read_bytes() == before
    assert not [p for p in backend.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_planted_secrets_appear_in_no_output(mini_repo, cli):
    env = {
        "EDCCONF_PG_DSN": f"postgresql://u:{SECRET}@127.0.0.1/x",
        "REDCAP_TOKEN_HEART": SECRET,
        "EDCCONF_TOKEN": SECRET,
    }
    envs = mini_repo / "environments/envs.yaml"
    envs.write_text(
        envs.read_text().replace(
            "{provider: csv, out: build/test/openclinica}",
            "{provider: csv, out: build/test/openclinica, token_env: EDCCONF_TOKEN}",
        )
    )
    heart = mini_repo / "studies/heart.yaml"
    heart.write_text(
        heart.read_text().replace(
            "  tags: [safety]\n", "  tags: [safety]\n  redcap: {project_id: 7, token_env: REDCAP_TOKEN_HEART}\n"
        )
    )
    outputs = []
    for args in (
        ["validate"],
        ["validate", "--json"],
        ["plan", "--env", "test"],
        ["plan", "--env", "test", "--json"],
        ["plan", "--env", "test", "--format", "markdown"],
        ["plan", "--env", "test", "--out", "p.plan"],
        ["show", "p.plan"],
        ["apply", "p.plan"],
        ["show", "--env", "test"],
        ["history", "--env", "test", "--changes"],
        ["plan", "--env", "nope"],
        ["force-unlock", "test", "x"],
    ):
        r = cli(*args, cwd=mini_repo, env=env)
        outputs.append(r.out + r.err)
    for text in outputs:
        assert SECRET not in text
    for path in (p for p in mini_repo.rglob("*") if p.is_file()):  # state, audit, cache, plans, bulk files
        assert SECRET.encode() not in path.read_bytes(), path


def test_csv_cells_are_safe_in_a_spreadsheet(mini_repo, cli):
    write(
        mini_repo,
        "groups/odd.yaml",
        """\
        group:
          id: odd
          ceiling: {form_access: read}
          members:
            - {username: eq.user, email: eq@hospital.example.org, name: "=HYPERLINK(\\"http://x\\",\\"y\\")"}
        """,
    )
    heart = mini_repo / "studies/heart.yaml"
    heart.write_text(
        heart.read_text().replace("  access:\n", "  access:\n    - {user: eq.user, role: viewer, sites: all}\n")
    )
    assert cli("apply", "--env", "test", "--yes", cwd=mini_repo).code == 0
    rows = list(csv.reader((mini_repo / "build/test/openclinica/HEART-01/users.csv").open(newline="")))
    names = [row[2] for row in rows if row[0] == "eq.user"]
    assert names == ['\'=HYPERLINK("http://x","y")']
    for path in (mini_repo / "build").rglob("*.csv"):
        for row in csv.reader(path.open(newline="")):
            assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row), (path, row)
