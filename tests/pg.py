"""The PostgreSQL fixtures (a pytest plugin, registered in tests/conftest.py): each test gets its own database
on the machine's server at 127.0.0.1:5432. Under CI=true an unreachable server fails the test, elsewhere it
skips it."""

import os
import uuid

import pytest

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
PLANTED = "pl4nted-S3cret-Pw"


@pytest.fixture
def pg_dsn():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(ADMIN, autocommit=True)
    except psycopg.Error as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 must be reachable under CI=true: {exc}")
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 ({exc})")
    name = f"edcconf_t_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        # trust authentication ignores the password: it is planted to prove it never leaks
        yield f"host=127.0.0.1 port=5432 user=postgres dbname={name} password={PLANTED}"
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_repo(mini_repo, pg_dsn):
    """The mini configuration with its test environment's state in PostgreSQL (DSN from EDCCONF_PG_DSN)."""
    envs = mini_repo / "environments/envs.yaml"
    envs.write_text(
        envs.read_text().replace(
            "  - name: test\n", "  - name: test\n    state: {backend: postgres, dsn_env: EDCCONF_PG_DSN}\n"
        )
    )
    return mini_repo
