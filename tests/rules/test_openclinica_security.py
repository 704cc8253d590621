"""OpenClinica account security (001): domain-wide MFA and password rules, per-environment lock-out and
inactivity, and the migration of settings that used to be declared per environment."""

import pytest

from edcconf.diagnostics import Loc
from edcconf.model import OpenClinicaDomain, frozen_map
from edcconf.rules.openclinica_security import PASSWORD_DEFAULTS, check_domain, effective_password
from tests.conftest import run_cli, write
from tests.helpers import edit
from tests.validate.test_rules import problems


# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
@pytest.fixture
def cli():
    return run_cli


HERE = Loc("environments/openclinica.yaml", 1)


def domain(**password):
    return OpenClinicaDomain(mfa_required=True, password=frozen_map(password), loc=HERE)


@pytest.mark.parametrize(
    "password,bad",
    [
        ({}, False),
        ({"min_length": 8, "character_classes": 3, "history": 1}, False),  # OpenClinica's own values
        ({"min_length": 7}, True),
        ({"character_classes": 2}, True),
        ({"character_classes": 4}, False),
        ({"character_classes": 5}, True),
        ({"history": 0}, True),
        ({"history": 12}, False),
        ({"reject_common": False}, True),
        ({"reject_personal_data": False}, True),
        ({"reject_common": True, "reject_personal_data": True}, False),
        ({"expires_days": 0}, True),
        ({"expires_days": 1}, False),
        ({"expires_days": None}, False),
    ],
)
def test_password_rules_are_never_looser_than_openclinicas(password, bad):
    found = check_domain(domain(**password))
    assert [d.code for d in found] == (["openclinica-password"] if bad else [])


def test_absent_rules_are_openclinicas():
    assert effective_password(None) == PASSWORD_DEFAULTS
    assert effective_password(domain(min_length=12))["min_length"] == 12
    assert effective_password(domain(min_length=12))["history"] == 1


def test_the_domain_is_in_the_model_with_each_setting_located(mini_repo):
    from edcconf.pipeline import load_desired
    from tests.validate.test_rules import TODAY

    write(
        mini_repo, "environments/oc.yaml", "openclinica_domain:\n  mfa_required: true\n  password:\n    min_length: 5\n"
    )
    (p,) = problems(mini_repo)
    assert p[:2] == ("openclinica-password", "environments/oc.yaml:4") and "at least 8" in p[2]
    edit(mini_repo, "environments/oc.yaml", "min_length: 5", "min_length: 10")
    model = load_desired(mini_repo, TODAY).model
    assert model.openclinica_domain.mfa_required is True
    assert model.openclinica_domain.password["min_length"] == 10


@pytest.mark.parametrize(
    "setting,moved_to",
    [
        ("mfa_required: true", "openclinica_domain.mfa_required"),
        ("mfa: true", "openclinica_domain.mfa_required"),
        ("password_min_length: 10", "openclinica_domain.password.min_length"),
    ],
)
def test_cli_names_where_an_environment_setting_moved(mini_repo, cli, setting, moved_to):
    edit(
        mini_repo,
        "environments/envs.yaml",
        "    protected: true\n",
        f"    protected: true\n    security: {{{setting}, lockout_failed_logins: 10}}\n",
    )
    r = cli("validate", "--json", cwd=mini_repo)
    assert r.code == 1
    (e,) = r.json["errors"]
    assert e["code"] == "setting-moved" and e["source"].startswith("environments/envs.yaml:7")
    assert moved_to in e["message"]
    r = cli("plan", "--env", "test", cwd=mini_repo)
    assert r.code == 1 and "error[setting-moved]" in r.err


def test_environment_limits_are_checked_per_environment(mini_repo, cli):
    edit(
        mini_repo,
        "environments/envs.yaml",
        "    protected: true\n",
        "    protected: true\n    security: {inactivity_timeout_hours: 4.5, lockout_failed_logins: 10}\n",
    )
    r = cli("validate", "--json", cwd=mini_repo)
    assert r.code == 1
    (e,) = r.json["errors"]
    assert e["code"] == "environment-security" and "production" in e["message"] and "at most 4" in e["message"]


def test_the_example_declares_its_domain_once(example_repo, cli):
    r = cli("validate", cwd=example_repo)
    assert r.code == 0, r
    write(example_repo, "environments/second.yaml", "openclinica_domain: {mfa_required: false}\n")
    r = cli("validate", "--json", cwd=example_repo)
    assert r.code == 1 and [e["code"] for e in r.json["errors"]] == ["duplicate-id"]
