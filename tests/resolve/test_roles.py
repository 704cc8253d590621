"""OpenClinica 4 form access (seed 001): contact, tagged and untagged forms, custom roles."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from edcconf.catalogs import catalog
from edcconf.diagnostics import Loc
from edcconf.model import FORM_LEVELS, Form, Role, frozen_map, level_rank
from edcconf.pipeline import load_desired
from edcconf.resolve.roles import form_level, form_rule

OC = catalog("openclinica")
L = Loc("s.yaml", 1, 1)
CONTACT = Form("contact", None, True, (), L)
TAGGED = Form("ae", None, False, ("safety",), L)
TAGGED_CONTACT = Form("consent", None, True, ("pii",), L)
PLAIN = Form("vitals", None, False, (), L)


def role(base, default=None, tags=None, contact_forms=None):
    return Role("custom", base, default, frozen_map(tags or {}), contact_forms, frozen_map({}), L)


def level(base_id, custom, form):
    """The level with its reason (explain) and without (the effective state): always the same."""
    with_reason = form_rule(OC.roles[base_id], custom, form).level
    assert form_level(OC.roles[base_id], custom, form) == with_reason
    return with_reason


def test_base_role_defaults():
    assert [
        level(b, None, PLAIN)
        for b in ("data_manager", "data_specialist", "data_entry", "monitor", "viewer", "crc", "investigator")
    ] == ["edit", "edit", "edit", "review", "read", "edit", "edit"]
    assert [level(b, None, CONTACT) for b in ("crc", "investigator", "monitor", "data_manager", "viewer")] == [
        "edit",
        "edit",
        "none",
        "none",
        "none",
    ]
    assert all(level(b, None, TAGGED) == "none" for b in OC.roles)


def test_custom_role_overrides():
    assert level("crc", role("crc", contact_forms="none"), CONTACT) == "none"
    assert level("monitor", role("monitor", contact_forms="read"), CONTACT) == "read"
    assert level("viewer", role("viewer", default="review"), PLAIN) == "review"
    assert level("crc", role("crc", tags={"safety": "read"}), TAGGED) == "read"


def test_tag_beats_contact_default_and_contact_forms():
    assert level("crc", role("crc", tags={"pii": "none"}), TAGGED_CONTACT) == "none"
    assert level("monitor", role("monitor", tags={"pii": "read"}), TAGGED_CONTACT) == "read"
    # a tagged contact form follows the tag even when contact_forms says otherwise
    assert level("crc", role("crc", contact_forms="edit"), TAGGED_CONTACT) == "none"


def test_rule_names_its_source():
    custom = Role(
        "safety_monitor",
        "monitor",
        None,
        frozen_map({"safety": "review"}),
        None,
        frozen_map({}),
        L,
        frozen_map({"tags": Loc("s.yaml", 7, 5)}),
    )
    rule = form_rule(OC.roles["monitor"], custom, TAGGED)
    assert rule.rule == "tag safety: review (role safety_monitor)" and str(rule.loc) == "s.yaml:7"


levels = st.sampled_from(FORM_LEVELS)
bases = st.sampled_from(sorted(OC.roles))


@given(
    bases,
    st.dictionaries(st.sampled_from(["pii", "safety", "other"]), levels, max_size=3),
    st.one_of(st.none(), levels),
    st.one_of(st.none(), st.sampled_from(["read", "review", "edit"])),
)
def test_tagged_forms_follow_only_their_tags(base, tags, contact_forms, default):
    """Whatever else the role says, a tagged form's level is the best level among its granted tags, else none."""
    custom = role(base, default=default, tags=tags, contact_forms=contact_forms)
    for form in (TAGGED, TAGGED_CONTACT):
        granted = [tags[t] for t in form.tags if t in tags]
        expected = max(granted, key=level_rank) if granted else "none"
        assert level(base, custom, form) == expected


def test_site_scopes_and_expiry_in_the_effective_state(mini_repo):
    desired = load_desired(mini_repo, date(2026, 11, 24))
    prod = desired.resolution.environments["production"].state
    assert prod["grants"]["HEART-01/vera.view"]["sites"] == ["BOS", "NYC"]  # countries: [US]
    assert prod["grants"]["HEART-01/dina.dm"]["sites"] == ["BOS", "LYON", "NYC"]  # all, sorted
    assert prod["grants"]["HEART-01/vera.view"]["expires"] == "2027-03-31"  # the person's expiry
    test = desired.resolution.environments["test"]
    assert "HEART-01/vera.view" not in test.state["grants"]
    assert test.excluded["HEART-01/vera.view"].reason == "not granted in test (environments: production)"
    later = load_desired(mini_repo, date(2027, 4, 1)).resolution.environments["production"]
    assert "HEART-01/vera.view" not in later.state["grants"]
    assert later.excluded["HEART-01/vera.view"].reason == "vera.view expired on 2027-03-31"


def test_form_levels_are_stored_once_per_role(mini_repo):
    state = load_desired(mini_repo, date(2026, 11, 24)).resolution.environments["production"].state
    refs = {g["role_ref"] for g in state["grants"].values()}
    assert set(state["roles"]) == refs and len(refs) == 5
    assert all("forms" not in g for g in state["grants"].values())


def test_permission_graph_traces_levels_to_declarations(mini_repo):
    graph = load_desired(mini_repo, date(2026, 11, 24)).resolution.graph
    (edge,) = [d for _, _, d in graph.out_edges(("person", "mona.mon"), data=True) if d["kind"] == "granted"]
    assert edge["source"] == "studies/heart.yaml:20" and edge["environments"] == ["test", "production"]
    (role_node,) = [n for n in graph.successors(("person", "mona.mon")) if n[0] == "role"]
    levels = {v: d["level"] for _, v, d in graph.out_edges(role_node, data=True) if d["kind"] == "level"}
    assert levels == {
        ("form", "HEART-01/contact_info"): "none",
        ("form", "HEART-01/adverse_events"): "review",
        ("form", "HEART-01/vitals"): "review",
    }


REDCAP = catalog("redcap")
VIEWING = sorted(REDCAP.abilities["dataViewing"])


@given(st.lists(st.sampled_from(VIEWING), max_size=60))
def test_a_role_s_viewing_is_the_join_of_its_forms_in_any_order_and_number(views):
    """redcap_rights joins each distinct viewing value once: the same as joining every form's, in order."""
    from edcconf.resolve.roles import redcap_rights

    every = 0
    for value in views:
        every = REDCAP.join("dataViewing", every, value)
    forms = {f"f{i}": {"view": v, "export": 0} for i, v in enumerate(views)}
    assert redcap_rights(REDCAP, REDCAP.roles["data_entry"], None, forms)["dataViewing"] == every
    assert set(REDCAP.abilities["dataViewing"][every]) == set().union(
        *(REDCAP.abilities["dataViewing"][v] for v in views)
    )
