"""No secret in any output: a PostgreSQL password holding '%', '@', ':', '/' or a space, written in every
form a connection string takes (URL, encoded or not, in the user information or the query; key=value,
quoted or not), never appears, whole or in part, in stdout, stderr, --json, a file or a database row,
whether the connection works, fails, or the string cannot be read."""

import uuid
from urllib.parse import quote

import pytest

psycopg = pytest.importorskip("psycopg")

from tests.conftest import run_inprocess  # noqa: E402
from tests.pg import ADMIN  # noqa: E402

pytestmark = pytest.mark.postgres

# parts long enough that finding one is never a coincidence; separated by each character that troubled
# libpq's URL parser ('%' not starting an escape, '@', ':', '/') and a space
PASSWORD = "Kq7Ab%zzR4Cd@Ht9Ef:Mx2Gh/Wv8Ij Np5Kl"
PARTS = ["Kq7Ab", "zzR4Cd", "Ht9Ef", "Mx2Gh", "Wv8Ij", "Np5Kl"]
NO_SPACE = PASSWORD.replace(" ", "")


def kv_quoted(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def forms(db):
    """(name, DSN, whether it connects): user postgres with trust authentication accepts any password."""
    enc = quote(PASSWORD, safe="")
    return [
        ("url-encoded", f"postgresql://postgres:{enc}@127.0.0.1:5432/{db}", True),
        ("url-encoded-query", f"postgresql://postgres@127.0.0.1:5432/{db}?password={enc}", True),
        ("url-encoded-both", f"postgresql://postgres:{enc}@127.0.0.1:5432/{db}?sslpassword={enc}&password={enc}", True),
        ("url-raw", f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/{db}", False),
        ("url-raw-no-space", f"postgresql://postgres:{NO_SPACE}@127.0.0.1:5432/{db}", False),
        ("url-raw-query", f"postgresql://postgres@127.0.0.1:5432/{db}?password={NO_SPACE}", False),
        ("url-only-percent", f"postgres://postgres:Kq7Ab%zzR4Cd@127.0.0.1:5432/{db}", False),
        ("url-only-at", f"postgresql://postgres:Kq7Ab@zzR4Cd@127.0.0.1:5432/{db}", False),
        ("url-only-slash", f"postgresql://postgres:Kq7Ab/zzR4Cd@127.0.0.1:5432/{db}", False),
        ("url-wrong-port", f"postgresql://postgres:{enc}@127.0.0.1:5999/{db}", False),
        ("url-no-such-db", f"postgresql://postgres:{enc}@127.0.0.1:5432/nodb_{db}", False),
        ("url-no-such-user", f"postgresql://nobody_here:{enc}@127.0.0.1:5432/{db}", False),
        ("kv-quoted", f"host=127.0.0.1 port=5432 user=postgres dbname={db} password={kv_quoted(PASSWORD)}", True),
        ("kv-plain", f"host=127.0.0.1 port=5432 user=postgres dbname={db} password={NO_SPACE}", True),
        ("kv-spaced", f"host=127.0.0.1 port=5432 user=postgres dbname={db} password={PASSWORD}", False),
        ("kv-unterminated", f"host=127.0.0.1 port=5432 user=postgres dbname={db} password='{PASSWORD}", False),
        ("kv-twice", f"host=127.0.0.1 port=5432 password={NO_SPACE} user=postgres dbname={db} password=x", True),
        ("kv-wrong-port", f"host=127.0.0.1 port=5999 user=postgres dbname={db} password={kv_quoted(PASSWORD)}", False),
        ("kv-bad-option", f"host=127.0.0.1 user=postgres dbname={db} password={NO_SPACE} sslmode=bogus_mode", False),
    ]


@pytest.fixture
def database():
    try:
        admin = psycopg.connect(ADMIN, autocommit=True)
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 ({exc})")
    name = f"edcconf_s_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def leaks(text: str) -> list[str]:
    return [p for p in PARTS if p in text]


def rows_of(db) -> str:
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={db}") as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema "
            "NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        out = []
        for schema, table in tables:
            out += [str(r) for r in conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()]
    return "\n".join(out)


@pytest.mark.parametrize("name", [f[0] for f in forms("db")])
def test_no_part_of_the_password_in_any_output(mini_repo, database, name, monkeypatch):
    dsn, connects = next((d, c) for n, d, c in forms(database) if n == name)
    envs = mini_repo / "environments/envs.yaml"
    envs.write_text(
        envs.read_text().replace(
            "  - name: test\n", "  - name: test\n    state: {backend: postgres, dsn_env: EDCCONF_PG_DSN}\n"
        )
    )
    monkeypatch.setenv("EDCCONF_PG_DSN", dsn)
    monkeypatch.chdir(mini_repo)
    outputs = []
    for args in (
        ["validate"],
        ["validate", "--json"],
        ["plan", "--env", "test"],
        ["plan", "--env", "test", "--json"],
        ["plan", "--env", "test", "--out", "p.plan"],
        ["show", "p.plan"],
        ["apply", "p.plan"],
        ["apply", "--env", "test", "--yes"],
        ["apply", "--env", "test", "--yes", "--json"],
        ["show", "--env", "test"],
        ["show", "--env", "test", "--json"],
        ["history", "--env", "test", "--changes"],
        ["drift", "--env", "test"],
        ["drift", "--env", "test", "--json"],
        ["force-unlock", "test", "x"],
        ["compliance", "--env", "test"],
    ):
        code, out, err = run_inprocess(mini_repo, *args)
        assert code != 3 and "Traceback" not in out + err, (args, out, err)
        outputs.append((args, out + err))
    for args, text in outputs:
        assert not leaks(text), (args, text)
    plan = [text for args, text in outputs if args == ["plan", "--env", "test"]][0]
    if connects:
        assert "Plan: 14 to add" in plan, plan
        assert "serial 1" in [text for args, text in outputs if args == ["show", "--env", "test"]][0]
    else:
        assert "error" in plan.lower() or "edcconf:" in plan
    for path in (p for p in mini_repo.rglob("*") if p.is_file()):  # plans, cache, bulk files, notifications
        assert not leaks(path.read_bytes().decode("utf-8", "replace")), path
    assert not leaks(rows_of(database))  # state, history, audit, locks, journal


@pytest.mark.parametrize("name", ["url-encoded", "url-raw", "url-only-at", "kv-spaced", "kv-wrong-port"])
def test_no_part_of_the_password_at_the_process_outputs(mini_repo, cli, database, name):
    """The same at the file descriptors of a real process (anything a library prints itself included)."""
    dsn, connects = next((d, c) for n, d, c in forms(database) if n == name)
    envs = mini_repo / "environments/envs.yaml"
    envs.write_text(
        envs.read_text().replace(
            "  - name: test\n", "  - name: test\n    state: {backend: postgres, dsn_env: EDCCONF_PG_DSN}\n"
        )
    )
    for args in (
        ["plan", "--env", "test", "--json"],
        ["apply", "--env", "test", "--yes"],
        ["history", "--env", "test"],
    ):
        r = cli(*args, cwd=mini_repo, env={"EDCCONF_PG_DSN": dsn})
        assert r.code in ((0, 2) if connects else (1,)), r
        assert not leaks(r.out + r.err), r
    assert not leaks(rows_of(database))


def test_an_error_inside_a_locked_session_is_scrubbed_of_the_password_only(database, monkeypatch):
    """A statement failing while the lock is held (commit, audit, journal) names the state and what failed,
    with the password removed, and nothing else of the message touched (no single letters or digits
    starred because they also occur in the connection string)."""
    from edcconf.state.postgres import PostgresBackend

    dsn = f"postgresql://postgres:{quote(PASSWORD, safe='')}@127.0.0.1:5432/{database}"
    monkeypatch.setenv("EDCCONF_T_DSN", dsn)
    backend = PostgresBackend("test", "EDCCONF_T_DSN")
    failure = psycopg.Error(f"serial 5 of env a: could not write with password {PASSWORD}")
    message = backend._error(failure).message
    assert not leaks(message), message
    assert "serial 5 of env a: could not write" in message
