"""Property: on random organisations, `who-can` and `explain` (which answer from the permission graph) agree
with a brute-force reading of each environment's effective state: who has which level on which form, in
which study, at which sites, in which environment; the admins' implicit access; and the rights above each
person's group ceiling (compared with the group's declared ceiling here, not with rules.ceilings)."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from edcconf.catalogs import RIGHTS
from edcconf.model import level_rank
from edcconf.pipeline import load_desired
from edcconf.questions.explain import explain
from edcconf.questions.who_can import who_can
from tests.properties.test_organisations import DAY, LEVELS, organisations, write_org

STUDY = "S-1"


@st.composite
def varied_organisations(draw):
    """test_organisations' random organisations, with a random group ceiling (so that some grants are above
    it) and sometimes an admin (implicit access to every study, 001)."""
    org = draw(organisations())
    group = org["groups/all.yaml"]["group"]
    ceiling = {"unnamed": "unlimited"}
    for right in draw(st.lists(st.sampled_from(sorted(RIGHTS)), unique=True, max_size=4)):
        ceiling[right] = draw(st.sampled_from(RIGHTS[right]))
    group["ceiling"] = ceiling
    if draw(st.booleans()):
        group["members"].append({"username": "adm", "email": "adm@example.org", "name": "ADM", "type": "admin"})
    return org


def _usable_grants(desired):
    """(env, user, role, sites, role value) for every grant of the effective states that gives access."""
    for env, env_state in desired.resolution.environments.items():
        state = env_state.state
        for grant in state["grants"].values():
            if grant.get("study_status") != "disabled":
                yield env, grant, state["roles"][grant["role_ref"]]


def _admins(desired, env):
    state = desired.resolution.environments[env].state
    return set(state["studies"].get(STUDY, {}).get("admins", ()))


# no shrinking: each example loads an organisation, and shrinking one on a busy machine outlasts the timeout
@settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(org=varied_organisations(), level=st.sampled_from(LEVELS[1:]))
def test_graph_answers_match_the_effective_state(tmp_path, org, level):
    root = tmp_path / "org"
    write_org(root, org)
    desired = load_desired(root, DAY)
    forms = [f["id"] for f in org["studies/s.yaml"]["study"]["forms"]]
    grants = list(_usable_grants(desired))

    for form in forms:  # who-can LEVEL FORM --study S-1
        doc = who_can(desired, {"kind": "level", "level": level, "form": form}, STUDY, ())
        got = {
            (r["environment"], r["user"], r["role"], tuple(r["sites"]), r["has"])
            for r in doc["people"]
            if not r.get("implicit")
        }
        expected = {
            (env, g["user"], g["role"], tuple(g["sites"]), role["forms"][form])
            for env, g, role in grants
            if level_rank(role["forms"][form]) >= level_rank(level)
        }
        assert got == expected, (form, level)
        implicit = {(r["environment"], r["user"]) for r in doc["people"] if r.get("implicit")}
        listed = {(env, user) for env, user, *_ in expected}
        assert implicit == {
            (env, a) for env in desired.resolution.environments for a in _admins(desired, env) if (env, a) not in listed
        }

    for right, values in RIGHTS.items():  # who-can --right NAME=VALUE
        value = values[-1]
        doc = who_can(desired, {"kind": "right", "right": right, "value": value}, None, ())
        got = {(r["environment"], r["user"], r["has"]) for r in doc["people"] if not r.get("implicit")}
        assert got == {
            (env, g["user"], role["rights"].get(right)) for env, g, role in grants if role["rights"].get(right) == value
        }, right

    ceiling = org["groups/all.yaml"]["group"]["ceiling"]
    for person in desired.model.people:  # explain PERSON: per environment, the forms' levels and the ceiling
        doc = explain(desired, person)
        got_levels, got_over = set(), set()
        for env in doc["environments"]:
            for entry in env["studies"]:
                if entry["access"]:
                    got_levels |= {(env["environment"], f["form"], f["level"]) for f in entry["forms"]}
                    got_over |= {(o["right"], o["granted"], o["allowed"]) for o in entry["ceiling"]["over"]}
                    assert entry["ceiling"]["within"] == (not entry["ceiling"]["over"])
        mine = [(env, role) for env, g, role in grants if g["user"] == person]
        assert got_levels == {(env, f, lvl) for env, role in mine for f, lvl in role["forms"].items()}, person
        assert got_over == {
            (r, v, ceiling[r])
            for _, role in mine
            for r, v in role["rights"].items()
            if r in ceiling and RIGHTS[r].index(v) > RIGHTS[r].index(ceiling[r])
        }, person
        granted_envs = {env["environment"] for env in doc["environments"] if any(e["access"] for e in env["studies"])}
        assert granted_envs == {env for env, _ in mine}, person
