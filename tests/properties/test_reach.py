"""Property: for random plans over random applied states, an apply hands each change to exactly the
providers of the systems it concerns (and makes no provider that nothing concerns).

What a change concerns, said here from the states (independently of edcconf.providers.Reach): a grant or
a study, its study's system; an account, the systems of the person's grants in the applied state and in
the state the plan leads to, and the systems whose files carry groups (a REDCap `csv` target); a group,
those systems; a site, the systems of the studies that have it in either state."""

import tempfile
from datetime import date
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edcconf import workflow
from edcconf.diagnostics import Loc
from edcconf.model import Environment, Target
from edcconf.plan import Change, Plan
from edcconf.state import LocalBackend, StateRecord, fold, next_record
from tests.conftest import examples

SYSTEMS = ("openclinica", "redcap", "vault")
USERS = [f"u{i}" for i in range(5)]
SITES = [f"X{i}" for i in range(4)]
GROUPS = [f"g{i}" for i in range(3)]


class Recording:
    batched = False

    def __init__(self, system):
        self.system, self.got = system, []

    def apply(self, change):
        self.got.append(change)

    def finish(self, applied, effective):
        return []

    def read_live(self):
        return None


@st.composite
def cases(draw):
    in_env = draw(st.lists(st.sampled_from(SYSTEMS), min_size=1, unique=True))
    providers = {s: ("redcap" if s == "redcap" and draw(st.booleans()) else "csv") for s in in_env}
    studies = {
        f"S{i}": {
            "system": draw(st.sampled_from(in_env)),
            "sites": draw(st.lists(st.sampled_from(SITES), unique=True, max_size=3)),
        }
        for i in range(draw(st.integers(1, 4)))
    }
    applied_studies = {k: v for k, v in studies.items() if draw(st.booleans())}
    applied_grants = {}
    for study in applied_studies:
        for user in draw(st.lists(st.sampled_from(USERS), unique=True, max_size=3)):
            applied_grants[f"{study}/{user}"] = {"study": study, "user": user, "role_ref": None}
    applied = {
        "accounts": {u: {"status": "active", "name": u} for u in USERS if draw(st.booleans())},
        "groups": {g: {"description": g} for g in GROUPS if draw(st.booleans())},
        "sites": {s: {"country": "US"} for s in SITES},
        "studies": applied_studies,
        "grants": applied_grants,
        "roles": {},
    }
    keys = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("grant"), st.sampled_from(sorted(studies)), st.sampled_from(USERS)),
                st.tuples(st.just("account"), st.sampled_from(USERS), st.just(None)),
                st.tuples(st.just("group"), st.sampled_from(GROUPS), st.just(None)),
                st.tuples(st.just("site"), st.sampled_from(SITES), st.just(None)),
                st.tuples(st.just("study"), st.sampled_from(sorted(studies)), st.just(None)),
            ),
            unique=True,
            max_size=12,
        )
    )
    changes = []
    for kind, key, user in keys:
        if kind == "grant":
            gkey = f"{key}/{user}"
            value = {"study": key, "user": user, "role_ref": None}
            if gkey in applied_grants and draw(st.booleans()):
                changes.append(Change("revoke", "grant", gkey, value, None, "r", "", study=key))
            else:
                changes.append(
                    Change(
                        "update" if gkey in applied_grants else "create",
                        "grant",
                        gkey,
                        applied_grants.get(gkey),
                        value,
                        "r",
                        "",
                        study=key,
                        stored=value,
                    )
                )
        elif kind == "study":
            after = {**studies[key], "sites": draw(st.lists(st.sampled_from(SITES), unique=True, max_size=3))}
            changes.append(
                Change(
                    "update" if key in applied_studies else "create",
                    "study",
                    key,
                    applied_studies.get(key),
                    after,
                    "r",
                    "",
                    study=key,
                    stored=after,
                )
            )
        elif kind == "account":
            action = draw(st.sampled_from(["create", "update", "deactivate", "reactivate"]))
            after = {"status": "deactivated" if action == "deactivate" else "active", "name": key.upper()}
            changes.append(Change(action, "account", key, applied["accounts"].get(key), after, "r", "", stored=after))
        elif kind == "group":
            if key in applied["groups"] and draw(st.booleans()):
                changes.append(Change("revoke", "group", key, applied["groups"][key], None, "r", ""))
            else:
                after = {"description": key.upper()}
                changes.append(
                    Change(
                        "update" if key in applied["groups"] else "create",
                        "group",
                        key,
                        applied["groups"].get(key),
                        after,
                        "r",
                        "",
                        stored=after,
                    )
                )
        else:
            after = {"country": "FR"}
            changes.append(Change("update", "site", key, applied["sites"][key], after, "r", "", stored=after))
    return providers, {k: v["system"] for k, v in studies.items()}, applied, changes


def concerned(change, applied, desired, study_systems, group_systems):
    if change.kind in ("grant", "study"):
        return {study_systems[change.study]}
    if change.kind == "group":
        return set(group_systems)
    states = (applied, desired)
    if change.kind == "account":
        return {
            study_systems[g["study"]] for state in states for g in state["grants"].values() if g["user"] == change.key
        } | set(group_systems)
    return {study_systems[s] for state in states for s, v in state["studies"].items() if change.key in v["sites"]}


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_each_change_reaches_exactly_the_providers_it_concerns(case):
    target_providers, study_systems, applied, changes = case
    targets = {
        s: Target(
            s,
            p,
            f"build/{s}" if p == "csv" else None,
            "https://redcap.example.org/api/" if p == "redcap" else None,
            None,
            Loc("envs.yaml"),
        )
        for s, p in target_providers.items()
    }
    environment = Environment("test", False, {}, {"backend": "local"}, {}, targets, Loc("envs.yaml"))
    group_systems = {s for s, p in target_providers.items() if s == "redcap" and p == "csv"}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        backend = LocalBackend(root, "test")
        previous = next_record(StateRecord("test"), applied, {}, None)
        backend.write(previous, expected_serial=0)
        plan = Plan("test", previous.serial, previous.lineage, date(2026, 11, 24), tuple(changes))
        planned = workflow.PlannedEnvironment(plan, environment, previous, backend, study_systems, {}, "digest")
        made: dict[str, Recording] = {}

        def providers_for(root_, env, systems, serial, study_sites=None):
            assert env is environment
            made.update({s: Recording(s) for s in systems})
            return dict(made)

        with (
            mock.patch.object(workflow, "providers_for", providers_for),
            mock.patch.object(workflow, "_notify", lambda root_, result, reason, ahead=None: result),
        ):
            result = workflow.apply_planned(root, planned)
        assert result.failed is None and len(result.applied) == len(changes)
        desired = fold(applied, changes)
        want = [concerned(c, applied, desired, study_systems, group_systems) for c in plan.changes]
        assert set(made) == set().union(*want)  # no provider that nothing concerns
        for system, provider in made.items():
            assert provider.got == [c for c, w in zip(plan.changes, want) if system in w], system
        assert backend.read().serial == previous.serial + bool(changes)  # and every change is recorded
