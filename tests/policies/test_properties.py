"""The networkx evaluation of access policies (resolve.access_policies) against a brute-force check written
separately: loops over every pair of the model's grants, with the exclusions worked out again here (grant
in the environment, person active and not expired, grant not expired, not Vault-disabled)."""

from datetime import date
from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from edcconf.catalogs import RIGHTS
from edcconf.diagnostics import Loc
from edcconf.model import AccessPolicy, Environment, External, Form, Grant, Model, Person, Role, Study, frozen_map
from edcconf.resolve import resolve
from edcconf.resolve.access_policies import violations
from tests.conftest import examples

DAY = date(2026, 11, 24)
PAST, FUTURE = date(2026, 1, 31), date(2027, 12, 31)
SITES = ("S0", "S1", "S2")
TAGS = ("blind", "unblind", "pii")
BASES = ("data_manager", "data_specialist", "data_entry", "monitor", "viewer", "crc", "investigator")
OFTEN = ("data_manager", "monitor", "crc", "c0")  # the roles grants and policies name most
LEVELS = ("none", "read", "review", "edit")
PEOPLE = tuple(f"p{i}" for i in range(5))
L = Loc("x.yaml", 1, 1)
SITE = st.sampled_from(SITES)


def env(name: str) -> Environment:
    return Environment(name, False, frozen_map(), frozen_map(), frozen_map(), frozen_map(), L)


@st.composite
def studies(draw, index: int) -> Study:
    sid = f"ST{index}"
    tags = tuple(draw(st.lists(st.sampled_from(TAGS), unique=True, min_size=draw(st.sampled_from([0, 2, 2])))))
    forms = tuple(
        Form(
            f"f{i}",
            None,
            draw(st.booleans()),
            tuple(draw(st.lists(st.sampled_from(tags), unique=True, min_size=draw(st.integers(0, 1))))) if tags else (),
            L,
        )
        for i in range(draw(st.integers(1, 4)))
    )
    roles = {
        f"c{i}": Role(
            f"c{i}",
            draw(st.sampled_from(BASES)),
            draw(st.sampled_from((None,) + LEVELS[1:])),
            frozen_map(
                draw(st.dictionaries(st.sampled_from(tags), st.sampled_from(LEVELS[1:]) | st.sampled_from(LEVELS)))
                if tags
                else {}
            ),
            None,
            frozen_map(),
            L,
        )
        for i in range(draw(st.integers(0, 3)))
    }
    file, line, access = f"studies/{sid}.yaml", 10, []
    for person in PEOPLE:
        pool = st.sampled_from(tuple(r for r in OFTEN if r in roles or r in BASES)) | st.sampled_from(
            BASES + tuple(roles)
        )
        held = draw(st.lists(pool, unique=True, min_size=draw(st.sampled_from([0, 1, 2, 2])), max_size=2))
        for n, role in enumerate(held):
            line += 1
            access.append(
                Grant(
                    sid,
                    person,
                    role,
                    draw(st.sampled_from(["all", "all", ("test",), ("production",)])),
                    draw(
                        st.just("all")
                        | SITE.map(lambda s: (s,))
                        | SITE.map(lambda s: (s,))
                        | st.lists(SITE, unique=True, min_size=1, max_size=2).map(tuple)
                    ),
                    None,
                    draw(st.sampled_from([None, None, None, PAST, FUTURE])),
                    Loc(file, line, 7),
                    per_role=n > 0,
                    disabled=draw(st.integers(0, 9)) == 0,
                )
            )
    return Study(
        sid,
        sid,
        "openclinica",
        None,
        None,
        ("test", "production"),
        SITES,
        None,
        tags,
        forms,
        frozen_map(roles),
        tuple(access),
        frozen_map(),
        Loc(file, 2, 3),
    )


@st.composite
def policies(draw) -> tuple[AccessPolicy, ...]:
    out = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["exclusive", "exclusive", "max_holders", "requires", "requester_not_approver"]))
        base = dict(
            id=f"pol{i}",
            kind=kind,
            description=None,
            enforcement=draw(st.sampled_from(["error", "warn"])),
            studies=tuple(
                draw(st.just([]) | st.lists(st.sampled_from(["ST0", "ST1", "blind", "pii"]), unique=True, max_size=2))
            )
            if kind != "requester_not_approver"
            else (),
            loc=Loc("policies/p.yaml", 2 + 5 * i, 5),
        )
        if kind == "exclusive":
            if draw(st.booleans()):
                base["roles"] = tuple(
                    draw(st.lists(st.sampled_from(OFTEN + ("viewer", "c1")), unique=True, min_size=2, max_size=3))
                )
            else:
                base["tags"] = tuple(draw(st.lists(st.sampled_from(TAGS), unique=True, min_size=2)))
            base["scope"] = draw(st.sampled_from(["study", "site"]))
        elif kind in ("max_holders", "requires"):
            right = draw(
                st.sampled_from(["form_access", "data_export", "user_rights"]) | st.sampled_from(sorted(RIGHTS))
            )
            base["right"] = right
            base["at_least"] = draw(st.just(None) | st.sampled_from(RIGHTS[right][1:]))
            if kind == "max_holders":
                base["max"] = draw(st.integers(0, 2))
            else:
                base["requires"] = draw(st.sampled_from(sorted(RIGHTS)))
        out.append(AccessPolicy(**base))
    return tuple(out)


@st.composite
def organisations(draw) -> Model:
    people = {}
    for i, name in enumerate(PEOPLE):
        ext = None
        if draw(st.booleans()):
            ext = External(
                "CRO",
                date(2026, 1, 1),
                "protocol",
                None,
                draw(st.sampled_from((None,) + PEOPLE)),
                L,
                approved_by=draw(st.sampled_from((None,) + PEOPLE)),
            )
        people[name] = Person(
            name,
            f"{name}@example.org",
            name,
            "user",
            draw(st.sampled_from(["active"] * 4 + ["deactivated"])),
            draw(st.sampled_from([None, None, None, PAST, FUTURE])),
            ext,
            "g",
            Loc("groups/g.yaml", 3 + i, 7),
        )
    all_studies = [draw(studies(i)) for i in range(draw(st.integers(1, 2)))]
    return Model(
        root=None, digest="", environments=frozen_map({"test": env("test"), "production": env("production")}),
        sites=frozen_map(), groups=frozen_map(), people=frozen_map(people),
        studies=frozen_map({s.id: s for s in all_studies}), access_policies=draw(policies()),
    )  # fmt: skip


# ---- the brute-force check: loops over grants, nothing from resolve.access_policies ----


def counts(model: Model, study: Study, grant: Grant, env_name: str, roles) -> bool:
    person = model.people.get(grant.user)
    in_env = grant.environments == "all" or env_name in grant.environments
    alive = person is not None and person.status == "active" and (person.expires is None or person.expires >= DAY)
    return (
        in_env and alive and not grant.disabled and (grant.expires is None or grant.expires >= DAY)
        and (study.id, grant.role) in roles
    )  # fmt: skip


def gives(policy: AccessPolicy, study: Study, grant: Grant, roles) -> set[str]:
    role = roles[(study.id, grant.role)]
    if policy.roles:
        return {r for r in policy.roles if r == grant.role or r == role.base.id}
    return {t for t in policy.tags for f in study.forms if t in f.tags and role.forms[f.id] != "none"}


def reaches(rights, right: str, at_least) -> bool:
    order = RIGHTS[right]
    return order.index(rights[right]) >= (order.index(at_least) if at_least else 1)


def brute(model: Model, env_name: str, roles) -> list[tuple]:
    out = []
    for policy in model.access_policies:
        if policy.kind == "requester_not_approver":
            for p in model.people.values():
                if p.external is None or p.status != "active" or (p.expires is not None and p.expires < DAY):
                    continue
                asked, approved = p.external.requested_by, p.external.approved_by
                n = (
                    (asked == p.username)
                    + (approved == p.username)
                    + (asked is not None and asked == approved != p.username)
                )
                out += [(policy.id, None, (p.username,))] * n
            continue
        for study in model.studies.values():
            if policy.studies and study.id not in policy.studies and not set(study.tags) & set(policy.studies):
                continue
            live = [g for g in study.access if counts(model, study, g, env_name, roles)]
            if policy.kind == "exclusive":
                users = set()
                for a, b in product(live, live):
                    if a.user != b.user:
                        continue
                    sa = set(SITES) if a.sites == "all" else set(a.sites)
                    sb = set(SITES) if b.sites == "all" else set(b.sites)
                    if policy.scope == "site" and not sa & sb:
                        continue
                    if any(x != y for x in gives(policy, study, a, roles) for y in gives(policy, study, b, roles)):
                        users.add(a.user)
                out += [(policy.id, study.id, (u,)) for u in users]
            elif policy.kind == "max_holders":
                holders = {
                    g.user for g in live if reaches(roles[(study.id, g.role)].rights, policy.right, policy.at_least)
                }
                if len(holders) > policy.max:
                    out.append((policy.id, study.id, tuple(sorted(holders))))
            else:
                for user in {g.user for g in live}:
                    mine = [roles[(study.id, g.role)].rights for g in live if g.user == user]
                    if any(reaches(r, policy.right, policy.at_least) for r in mine) and not any(
                        reaches(r, policy.requires, None) for r in mine
                    ):
                        out.append((policy.id, study.id, (user,)))
    return sorted(out, key=str)


@settings(max_examples=examples(200))
@given(organisations())
def test_networkx_evaluation_equals_brute_force(model):
    resolution = resolve(model, DAY)
    for name, state in resolution.environments.items():
        found = [(v.policy.id, v.study, tuple(sorted(v.users))) for v in violations(model, state)]
        assert sorted(found, key=str) == brute(model, name, resolution.roles)
        for v in violations(model, state):  # reported where a grant (or the external person) was declared
            assert v.diagnostic().severity == ("warning" if v.policy.enforcement == "warn" else "error")
            assert v.loc.file.startswith("studies/" if v.study else "groups/") or v.loc == L
