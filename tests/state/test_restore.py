"""Lineage is never lost: a missing state file beside its backup or history is an error naming them and
`edcconf state restore`, which puts a version back (atomically, under the lock, with an audit entry)
without overwriting any recorded version, and refuses a state of another lineage unless forced."""

import json
import os

import pytest

from tests.conftest import FIXTURES, copy_config, run_inprocess

DAY = "2026-11-24"


def run(root, *args):
    code, out, err = run_inprocess(root, *args)
    assert "Traceback" not in out + err, err
    return code, out, err


@pytest.fixture
def applied_twice(mini_repo):
    assert run(mini_repo, "plan", "--env", "test", "--at", DAY)[0] == 2  # a plan memo of the empty state, too
    assert run(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    heart = mini_repo / "studies/heart.yaml"
    heart.write_text(heart.read_text().replace("sites: [BOS]}", "sites: [BOS, NYC]}"))
    assert run(mini_repo, "apply", "--env", "test", "--yes")[0] == 0
    return mini_repo


def state_dir(root):
    return root / ".edcconf/state"


def test_missing_state_file_with_history_is_an_error_never_a_new_lineage(applied_twice):
    root = applied_twice
    first = (state_dir(root) / "history/test/000001.json").read_bytes()
    (state_dir(root) / "test.json").unlink()
    for args in (
        ["plan", "--env", "test", "--at", DAY],
        ["apply", "--env", "test", "--yes"],
        ["show", "--env", "test"],
        ["history", "--env", "test"],
    ):
        code, out, err = run(root, *args)
        assert code == 1, (args, out, err)
        assert "test.json is missing" in err and "versions 1 to 2 under" in err and "test.json.backup" in err
        assert "edcconf state restore --env test" in err
    assert (state_dir(root) / "history/test/000001.json").read_bytes() == first
    assert not (state_dir(root) / "test.json").exists()


def test_restore_puts_the_newest_version_back_exactly(applied_twice):
    root = applied_twice
    newest = json.loads((state_dir(root) / "test.json").read_text())
    (state_dir(root) / "test.json").unlink()
    code, out, _ = run(root, "state", "restore", "--env", "test")
    assert code == 0 and "serial 2, is in place again" in out
    assert json.loads((state_dir(root) / "test.json").read_text()) == newest
    assert run(root, "plan", "--env", "test", "--at", DAY)[0] == 0  # nothing to do: the state is back
    entry = json.loads((root / ".edcconf/audit/test.jsonl").read_text().splitlines()[-1])
    assert entry["event"] == "state-restore" and entry["serial"] == 2 and entry["new_version"] is False
    assert entry["replaced"] == "missing state"


def test_restore_of_an_earlier_version_is_a_new_version(applied_twice):
    root = applied_twice
    versions = {p.name: p.read_bytes() for p in (state_dir(root) / "history/test").iterdir()}
    code, out, _ = run(root, "state", "restore", "--env", "test", "--serial", "1")
    assert code == 0 and "as a new version, serial 3" in out
    state = json.loads((state_dir(root) / "test.json").read_text())
    assert state["serial"] == 3 and state["note"] == "restored version 1"
    assert state["effective"] == json.loads(versions["000001.json"])["effective"]
    assert all((state_dir(root) / "history/test" / name).read_bytes() == data for name, data in versions.items())
    assert run(root, "plan", "--env", "test", "--at", DAY)[0] == 2  # the configuration is version 2's
    code, out, _ = run(root, "history", "--env", "test")
    assert "restored version 1" in out


def test_restore_from_the_backup_and_of_a_damaged_state(applied_twice):
    root = applied_twice
    (state_dir(root) / "test.json").write_text("{not json")
    code, _, err = run(root, "plan", "--env", "test", "--at", DAY)
    assert code == 1 and "edcconf state restore --env test" in err
    code, out, _ = run(root, "state", "restore", "--env", "test")  # the newest version over the damaged file
    assert code == 0 and "serial 2, is in place again" in out
    assert (state_dir(root) / "test.json.damaged").read_text() == "{not json"  # kept, and the backup too
    backup = state_dir(root) / "test.json.backup"
    code, out, _ = run(root, "state", "restore", "--env", "test", "--from", str(backup))
    assert code == 0 and "as a new version, serial 3" in out
    entry = json.loads((root / ".edcconf/audit/test.jsonl").read_text().splitlines()[-1])
    assert entry["restored_from"] == str(backup) and entry["restored_serial"] == 1


def test_restore_refuses_another_lineage_unless_forced_and_another_environment_always(applied_twice, tmp_path):
    root = applied_twice
    other = copy_config(FIXTURES / "mini", tmp_path / "other")
    assert run(other, "apply", "--env", "test", "--yes")[0] == 0
    foreign = state_dir(other) / "test.json"
    code, _, err = run(root, "state", "restore", "--env", "test", "--from", str(foreign))
    assert code == 1 and "another lineage" in err and "--force" in err
    code, out, _ = run(root, "state", "restore", "--env", "test", "--from", str(foreign), "--force")
    assert code == 0 and "serial 3" in out
    assert (
        json.loads((state_dir(root) / "test.json").read_text())["lineage"] == json.loads(foreign.read_text())["lineage"]
    )
    data = json.loads(foreign.read_text())
    data["environment"] = "production"
    (tmp_path / "prod.json").write_text(json.dumps(data))
    code, _, err = run(root, "state", "restore", "--env", "test", "--from", str(tmp_path / "prod.json"), "--force")
    assert code == 1 and "environment 'production', not 'test'" in err


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--serial", "9"], "no applied version 9"),
        (["--from", "nowhere.json"], "nowhere.json does not exist"),
        (["--serial", "1", "--from", "x.json"], "not both"),
        ([], "is in place (serial 2)"),
    ],
)
def test_restore_usage_errors_are_clear(applied_twice, args, needle):
    code, _, err = run(applied_twice, "state", "restore", "--env", "test", *args)
    assert code == 1 and needle in err


def test_restore_with_nothing_to_restore_from(mini_repo):
    code, _, err = run(mini_repo, "state", "restore", "--env", "test")
    assert code == 1 and "nothing to restore" in err


@pytest.mark.postgres
def test_postgres_deleted_rows_are_an_error_and_restore_from_a_file(pg_repo, pg_dsn, monkeypatch, tmp_path):
    import psycopg

    monkeypatch.setenv("EDCCONF_PG_DSN", pg_dsn)
    assert run(pg_repo, "apply", "--env", "test", "--yes")[0] == 0
    with psycopg.connect(pg_dsn) as conn:
        record = conn.execute("SELECT record FROM edcconf.states").fetchone()[0]
        conn.execute("DELETE FROM edcconf.states")
    (tmp_path / "kept.json").write_text(json.dumps(record))
    code, _, err = run(pg_repo, "plan", "--env", "test", "--at", DAY)
    assert code == 1 and "rows were deleted" in err and "edcconf state restore --env test --from" in err
    code, _, err = run(pg_repo, "state", "restore", "--env", "test")
    assert code == 1 and "--serial N" in err
    code, out, _ = run(pg_repo, "state", "restore", "--env", "test", "--from", str(tmp_path / "kept.json"))
    assert code == 0 and "serial 1, is in place again" in out, out
    assert run(pg_repo, "plan", "--env", "test", "--at", DAY)[0] == 0
    assert os.environ["EDCCONF_PG_DSN"] == pg_dsn


KILLED_RESTORE = """
import os, sys
from edcconf.cli import main
from edcconf.state import local

real_write = local.write_atomically
def write_then_die(path, data, durable=True):
    if path.name == "test.json":   # the audit entry is written: killed before the state file is in place
        os._exit(9)
    real_write(path, data, durable)
local.write_atomically = write_then_die
main(["--config", sys.argv[1], "state", "restore", "--env", "test"])
"""


def test_restore_killed_before_the_state_is_in_place_is_finished_by_the_next_command(applied_twice):
    from tests.helpers import run_killed

    root = applied_twice
    newest = json.loads((state_dir(root) / "test.json").read_text())
    (state_dir(root) / "test.json").unlink()
    run_killed(KILLED_RESTORE, str(root))
    assert not (state_dir(root) / "test.json").exists()
    assert run(root, "plan", "--env", "test", "--at", DAY)[0] == 0  # the restore is finished, nothing to plan
    assert json.loads((state_dir(root) / "test.json").read_text()) == newest
    audit = [json.loads(x) for x in (root / ".edcconf/audit/test.jsonl").read_text().splitlines()]
    assert [e["event"] for e in audit].count("state-restore") == 1 and audit[-1]["event"] == "commit-completed"
    assert not (state_dir(root) / "test.journal").exists()
