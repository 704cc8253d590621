"""Properties over random organisations: plan → apply → plan is empty; apply is idempotent; state
round-trips; random damage to valid files gives exit 0/1/2 with codes, never a traceback."""

import json
import random
import shutil
from datetime import date
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edcconf import workflow
from edcconf.state import LocalBackend, StateRecord
from tests.conftest import FIXTURES, copy_config, examples
from tests.conftest import run_inprocess as _run

DAY = date(2026, 11, 24)
COUNTRIES = ["US", "FR", "NO"]
BASES = {
    "data_manager": "study",
    "data_specialist": "study",
    "data_entry": "both",
    "monitor": "both",
    "viewer": "both",
    "crc": "site",
    "investigator": "site",
}
LEVELS = ["none", "read", "review", "edit"]


@st.composite
def organisations(draw):
    n_sites = draw(st.integers(1, 4))
    sites = [{"id": f"S{i}", "name": f"Site {i}", "country": draw(st.sampled_from(COUNTRIES))} for i in range(n_sites)]
    tags = draw(st.lists(st.sampled_from(["pii", "safety", "imaging"]), unique=True, max_size=2))
    forms = []
    for i in range(draw(st.integers(1, 5))):
        form = {"id": f"f{i}"}
        if draw(st.booleans()):
            form["contact_data"] = True
        if tags and draw(st.booleans()):
            form["tags"] = draw(st.lists(st.sampled_from(tags), unique=True, min_size=1))
        forms.append(form)
    roles = {}
    for i in range(draw(st.integers(0, 3))):
        role = {"base": draw(st.sampled_from(sorted(BASES)))}
        if tags:
            role["tags"] = draw(st.dictionaries(st.sampled_from(tags), st.sampled_from(LEVELS), max_size=len(tags)))
        if draw(st.booleans()):
            role["default"] = draw(st.sampled_from(LEVELS[1:]))
        if draw(st.booleans()):
            role["contact_forms"] = draw(st.sampled_from(LEVELS))
        roles[f"custom{i}"] = role
    people = [f"p{i}" for i in range(draw(st.integers(1, 6)))]
    access = []
    for person in people:
        if not draw(st.booleans()):
            continue
        role = draw(st.sampled_from(sorted(BASES) + sorted(roles)))
        scope = BASES[roles[role]["base"] if role in roles else role]
        grant = {"user": person, "role": role, "environments": draw(st.sampled_from(["all", ["test"], ["production"]]))}
        site_ids = [s["id"] for s in sites]
        if scope == "study" or (scope == "both" and draw(st.booleans())):
            grant["sites"] = "all"
        else:
            choice = draw(st.sampled_from(["sites", "countries"]))
            if choice == "sites":
                grant["sites"] = draw(st.lists(st.sampled_from(site_ids), unique=True, min_size=1))
            else:
                grant["countries"] = draw(
                    st.lists(st.sampled_from(sorted({s["country"] for s in sites})), unique=True, min_size=1)
                )
        if draw(st.booleans()):
            grant["expires"] = draw(st.sampled_from(["2026-01-31", "2027-12-31"]))
        access.append(grant)
    return {
        "environments/envs.yaml": {
            "environments": [
                {"name": "test", "targets": {"openclinica": {"provider": "csv", "out": "build/test"}}},
                {"name": "production", "targets": {"openclinica": {"provider": "csv", "out": "build/prod"}}},
            ],
            "sites": sites,
        },
        "groups/all.yaml": {
            "group": {
                "id": "all",
                "ceiling": {"unnamed": "unlimited"},
                "members": [
                    {
                        "username": p,
                        "email": f"{p}@example.org",
                        "name": p.upper(),
                        **({"status": "deactivated"} if draw(st.booleans()) and i == 0 else {}),
                    }
                    for i, p in enumerate(people)
                ],
            }
        },
        "studies/s.yaml": {
            "study": {
                "id": "S-1",
                "name": "Random",
                "system": "openclinica",
                "environments": ["test", "production"],
                "sites": [s["id"] for s in sites],
                "participant_id_template": "${siteId}-${siteParticipantCount}",
                "tags": tags,
                "forms": forms,
                "roles": roles,
                "access": access,
            }
        },
    }


def write_org(root: Path, org: dict) -> None:
    if root.exists():
        shutil.rmtree(root)
    for rel, doc in org.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(yaml.safe_dump(doc, sort_keys=False))


SETTINGS = settings(
    max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(org=organisations())
def test_plan_apply_plan_is_empty_and_apply_is_idempotent(tmp_path, org):
    root = tmp_path / "org"
    write_org(root, org)
    for env in ("test", "production"):
        planned = workflow.plan_environment(root, env, DAY)
        result = workflow.apply_planned(root, planned)
        assert result.failed is None
        again = workflow.plan_environment(root, env, DAY)
        assert again.plan.empty, [c.to_json() for c in again.plan.changes]
        assert workflow.apply_planned(root, again).record.serial == result.record.serial  # idempotent: nothing
        backend = LocalBackend(root, env)
        record = backend.read()
        assert StateRecord.from_json(json.loads(json.dumps(record.to_json())), "x") == record


MUTATIONS = ["delete", "duplicate", "swap", "garbage", "retype", "indent"]


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10**9),
    mutation=st.sampled_from(MUTATIONS),
    target=st.sampled_from(["studies/heart.yaml", "groups/staff.yaml", "environments/envs.yaml"]),
)
def test_random_damage_never_crashes(tmp_path, seed, mutation, target):
    rng = random.Random(seed)
    root = tmp_path / f"m{seed}"
    if root.exists():
        shutil.rmtree(root)
    copy_config(FIXTURES / "mini", root)
    path = root / target
    lines = path.read_text().splitlines(keepends=True)
    i = rng.randrange(len(lines))
    if mutation == "delete":
        del lines[i]
    elif mutation == "duplicate":
        lines.insert(i, lines[i])
    elif mutation == "swap":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif mutation == "garbage":
        pos = rng.randrange(len(lines[i]) + 1)
        lines[i] = (
            lines[i][:pos]
            + rng.choice(["{", "]", ":", "- ", "&a", "*b", "!x ", "'", "\t", "\x00", "é"])
            + lines[i][pos:]
        )
    elif mutation == "retype":
        lines[i] = lines[i].replace(": ", ": [", 1) if rng.random() < 0.5 else lines[i].replace("[", "{", 1)
    else:
        lines[i] = " " * rng.randrange(1, 5) + lines[i]
    path.write_text("".join(lines))
    for args in (["validate", "--json"], ["plan", "--env", "test", "--json", "--at", "2026-11-24"]):
        code, out, err = _run(root, *args)
        assert "Traceback" not in out + err and code in (0, 1, 2), (mutation, target, (out + err)[-500:])
        if code == 1:  # every refusal names its problems, each with a code and a place
            errors = json.loads(out)["errors"]
            assert errors and all(e["code"] and e["source"] for e in errors)
