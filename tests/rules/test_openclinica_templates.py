"""Participant ID templates (001): placeholders OpenClinica knows, required parts, and the longest ID."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edcconf.diagnostics import Loc
from edcconf.rules.openclinica import COUNT_DIGITS, MAX_COUNT, check_participant_id_template, longest_id, parse
from tests.conftest import examples
from tests.helpers import edit
from tests.validate.test_rules import problems

HERE = Loc("studies/x.yaml", 8)
SITES = ("BOS", "CHU-LYON")


def codes(template, sites=SITES):
    return [d.code for d in check_participant_id_template(template, sites, HERE)]


@pytest.mark.parametrize(
    "template,expected",
    [
        ("${siteId}-${(siteParticipantCount+1)?string[000]}", []),  # 001's count example
        ("P-${(helper.random(5))?string[00000]}", []),  # 001's random example: no siteId needed
        ("${(siteParticipantCount+1)?string[000]}-${siteId}", []),  # any order
        ('${ siteId }-${( siteParticipantCount + 1 )?string["000"]}', []),  # spaces, FreeMarker's quoted format
        ("${siteId}-${helper.random(4)}-${siteParticipantCount}", []),
        ("${siteId}-001", ["participant-id-template"]),  # neither count nor random
        ("X-${siteParticipantCount}", ["participant-id-template"]),  # the count without the site id
        ("${siteID}-${siteParticipantCount}", ["participant-id-placeholder"]),
        ("${siteOID}-${helper.random(6)}", ["participant-id-placeholder"]),
        ("${siteId}-${siteParticipantCount+1?string[000]}", ["participant-id-placeholder"]),
        ("${siteId}-${helper.random(0)}", ["participant-id-placeholder"]),
        ("${siteId}-${helper.random(3)", ["participant-id-placeholder"]),  # not closed
        ("${siteId?string[000]}-${helper.random(3)}", ["participant-id-placeholder"]),
        ("P-${helper.random(29)}", ["participant-id-too-long"]),  # 2 + 29 = 31
        ("P-${helper.random(28)}", []),  # 30: the boundary
    ],
)
def test_template_rules(template, expected):
    assert codes(template) == expected


def test_messages_suggest_and_explain():
    (d,) = check_participant_id_template("${sitePartcipantCount}-${siteId}", SITES, HERE)
    assert "did you mean ${(siteParticipantCount+1)?string[000]}?" in d.message and d.loc == HERE
    (d,) = check_participant_id_template("STUDY-LONG-PREFIX-${siteId}-${siteParticipantCount}", SITES, HERE)
    assert d.code == "participant-id-too-long"
    assert "up to 31 characters" in d.message and "site id CHU-LYON" in d.message and "at most 30" in d.message


def test_longest_id_counts_text_site_ids_and_digits():
    assert longest_id("${siteId}-${(siteParticipantCount+1)?string[000]}", len("CHU-LYON")) == 8 + 1 + COUNT_DIGITS
    assert longest_id("${siteId}-${(siteParticipantCount+1)?string[000000]}", 3) == 3 + 1 + 6
    assert longest_id("P-${(helper.random(5))?string[00000]}", 0) == 7
    assert longest_id("P-${(helper.random(3))?string[00000]}", 0) == 7  # padded to 5
    assert longest_id("P-${helper.random(7)}", 0) == 9  # wider than no format


def test_the_site_ids_of_the_study_decide():
    template = "PREFIX-0123456789-${siteId}-${siteParticipantCount}"  # 18 + 1 + 4 = 23 + site id
    assert codes(template, ("BOS", "NYC")) == []
    assert codes(template, ("BOS", "A-LONG-SITE")) == ["participant-id-too-long"]


# An independent rendering of a template, as OpenClinica would produce an ID.
TEXT = st.text(alphabet="ABCXYZ-_.0123456789 ", max_size=8)


@st.composite
def templates(draw):
    parts, renders = [], []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "site", "count", "random"]))
        width = draw(st.integers(0, 8))
        fmt = f"?string[{'0' * width}]" if width else ""
        if kind == "text":
            t = draw(TEXT)
            parts.append(t)
            renders.append(lambda site, count, t=t: t)
        elif kind == "site":
            parts.append("${siteId}")
            renders.append(lambda site, count: site)
        elif kind == "count":
            k = draw(st.integers(0, 20))
            parts.append(f"${{(siteParticipantCount+{k}){fmt}}}" if fmt or k else "${siteParticipantCount}")
            renders.append(lambda site, count, k=k, w=width: str(count + k).zfill(w))
        else:
            n = draw(st.integers(1, 12))
            parts.append(f"${{(helper.random({n})){fmt}}}")
            renders.append(lambda site, count, n=n, w=width: str(10**n - 1).zfill(w))  # its largest value
    sites = draw(st.lists(st.text(alphabet="ABCDEFGH-", min_size=1, max_size=12), min_size=1, max_size=4))
    return "".join(parts), renders, sites


@settings(max_examples=examples(300), deadline=None)
@given(templates(), st.integers(0, MAX_COUNT - 1))  # participants already at the site
def test_no_id_is_longer_than_computed_and_the_longest_is_reached(generated, count):
    template, renders, sites = generated
    longest = longest_id(template, max(map(len, sites)))
    assert not parse(template).unknown
    for site in sites:
        assert len("".join(r(site, count) for r in renders)) <= longest
    worst = "".join(r(max(sites, key=len), MAX_COUNT - 1) for r in renders)
    assert len(worst) == longest
    too_long = "participant-id-too-long" in codes(template, tuple(sites))
    assert too_long == (longest > 30)


def test_in_a_configuration_each_rule_has_its_code_at_the_template_line(mini_repo):
    old = '"${siteId}-${(siteParticipantCount+1)?string[000]}"'
    edit(
        mini_repo,
        "studies/heart.yaml",
        old,
        "'${siteId}-${siteParticipantCount}-${siteParticipantCount}-ABCDEFGHIJKLMNOPQRSTU'",
    )
    assert [p[:2] for p in problems(mini_repo)] == [("participant-id-too-long", "studies/heart.yaml:8")]


def test_cli_refuses_an_unknown_placeholder_with_exit_1(mini_repo, cli):
    edit(
        mini_repo,
        "studies/heart.yaml",
        '"${siteId}-${(siteParticipantCount+1)?string[000]}"',
        "'${siteid}-${(siteParticipantCount+1)?string[000]}'",
    )
    r = cli("validate", "--json", cwd=mini_repo)
    assert r.code == 1
    (e,) = r.json["errors"]
    assert e["code"] == "participant-id-placeholder" and e["source"].startswith("studies/heart.yaml:8")
    assert "${siteId}" in e["message"]
