"""The declared types of #18 at run time: a Brake's JSON is the dicts brakes were before it, a saved plan
holds only the actions, kinds and brakes those types allow, and both state backends have what the
StateBackend protocol declares (mypy checks the signatures; this catches a member one of them lacks)."""

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from edcconf.diagnostics import UserError
from edcconf.plan.brakes import Guards, brakes_from_counts, declared_guards
from edcconf.plan.model import ACTIONS, ADD_ACTIONS, KINDS, REVOKE_ACTIONS, Brake, Change, Plan
from edcconf.plan.saved import load_plan, save_plan
from edcconf.state.backend import Journal, StateBackend


def test_brake_json_is_code_study_message_in_that_order():
    assert json.dumps(Brake("mass-revocation", "too many").to_json()) == (
        '{"code": "mass-revocation", "message": "too many"}'
    )
    assert json.dumps(Brake("data-manager-floor", "none left", "S1").to_json()) == (
        '{"code": "data-manager-floor", "study": "S1", "message": "none left"}'
    )


@pytest.mark.parametrize(
    "data",
    [
        {"code": "mass-revocation", "message": "m"},
        {"code": "data-manager-floor", "study": "S", "message": "m"},
    ],
)
def test_brake_reads_back_what_it_wrote(data):
    assert Brake.from_json(data).to_json() == data


@pytest.mark.parametrize(
    "data",
    [
        {"code": "no-such-brake", "message": "m"},
        {"code": "mass-revocation", "message": 3},
        {"code": "mass-revocation", "message": "m", "study": ["S"]},
        {"code": "mass-revocation", "message": "m", "extra": 1},
        ["mass-revocation", "m"],
    ],
)
def test_brake_refuses_other_shapes(data):
    with pytest.raises(ValueError):
        Brake.from_json(data)


def test_brakes_from_counts_gives_brakes_with_their_study():
    guards = declared_guards_of(max_revocation_fraction=0.5)
    revokes = tuple(Change("revoke", "grant", f"S/u{i}", {}, None, "", "", study="S") for i in range(3))
    brakes = brakes_from_counts(revokes, guards, {"S": 4}, {}, {}, (), ())
    assert [(b.code, b.study) for b in brakes] == [("mass-revocation", "S")]
    assert list(brakes[0].to_json()) == ["code", "study", "message"]


def declared_guards_of(**safety):
    from types import SimpleNamespace

    guards = declared_guards(SimpleNamespace(name="t", protected=False, safety=safety))
    return Guards("t", guards, guards)


def test_summary_actions_are_actions():
    assert set(ADD_ACTIONS) | set(REVOKE_ACTIONS) < set(ACTIONS)
    assert "update" in ACTIONS and "environment" in KINDS


def _saved(tmp_path: Path, plan: Plan) -> Path:
    path = tmp_path / "p.plan"
    save_plan(path, plan, "digest", {"S": "redcap"}, {})
    return path


def _rewrite(path: Path, edit) -> None:
    """Edit a saved plan and give it the digest of its new content (as a tool that writes plans would)."""
    data = json.loads(path.read_text())
    data.pop("digest")
    edit(data)
    data["digest"] = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    path.write_text(json.dumps(data))


def _plan(brakes=()) -> Plan:
    change = Change("create", "account", "ann", None, {"email": "a@x"}, "new account", "people.yaml:1")
    return Plan("test", 0, None, date(2026, 1, 5), (change,), brakes=tuple(brakes))


def test_saved_plan_keeps_its_brakes(tmp_path):
    brake = Brake("mass-revocation", "too many", "S")
    assert load_plan(_saved(tmp_path, _plan([brake]))).plan.brakes == (brake,)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["changes"][0].update(action="delete"),
        lambda d: d["changes"][0].update(kind="accounts"),
        lambda d: d.update(brakes=[{"code": "mass-revocation"}]),
    ],
    ids=["action", "kind", "brake"],
)
def test_saved_plan_with_what_the_types_do_not_allow_is_refused(tmp_path, edit):
    path = _saved(tmp_path, _plan())
    load_plan(path)  # as saved: read
    _rewrite(path, edit)
    with pytest.raises(UserError) as info:
        load_plan(path)
    assert info.value.code == "saved-plan"


def _members(protocol: type) -> set[str]:
    return {n for n in vars(protocol) if not n.startswith("_")} | set(getattr(protocol, "__annotations__", {}))


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_both_backends_have_every_member_of_the_protocol(backend):
    if backend == "local":
        from edcconf.state.local import LocalBackend as cls
    else:
        pytest.importorskip("psycopg")
        from edcconf.state.postgres import PostgresBackend as cls
    members = _members(StateBackend) - {"environment"}  # set by __init__
    assert members and not [m for m in sorted(members) if not hasattr(cls, m)]


def test_both_journals_have_every_member_of_the_protocol():
    from edcconf.state.journal import FileJournal

    pytest.importorskip("psycopg")
    from edcconf.state.postgres import PostgresJournal

    for cls in (FileJournal, PostgresJournal):
        assert not [m for m in sorted(_members(Journal)) if not hasattr(cls, m)], cls


def test_the_brake_codes_type_names_exactly_the_registered_brake_rules():
    from typing import get_args

    from edcconf.plan.model import BrakeCode
    from edcconf.rules import plan as plan_rules

    assert set(get_args(BrakeCode)) == {plan_rules.MASS_REVOCATION.code, plan_rules.DATA_MANAGER_FLOOR.code}
