"""Schema stage: errors at the offending node's file:line with what was expected."""

from edcconf.source.yamlfile import parse_yaml
from edcconf.validate.schema import schema_names, validate_file

STUDY = """study:
  id: S
  name: n
  system: openclinica
  environments: [test]
  sites: [010, BOS]
  forms: [{id: f1}]
"""


def check(text):
    parsed, diags = parse_yaml(text.encode(), "s.yaml")
    assert not diags
    return parsed, validate_file(parsed)


def test_valid_study_passes_and_numbers_become_text_where_text_is_wanted():
    parsed, diags = check(STUDY + "  protocol: {irb: 2024}\n")
    assert diags == []
    assert parsed.data["study"]["sites"] == ["010", "BOS"]
    assert parsed.data["study"]["protocol"]["irb"] == "2024"


def test_unknown_key_suggests_the_near_one_at_the_key():
    _, diags = check(STUDY + "  acess: []\n")
    (d,) = diags
    assert d.code == "schema" and (d.loc.line, d.loc.col) == (8, 3) and "did you mean 'access'" in d.message


def test_unknown_top_level_key():
    _, diags = check("studdy: {}\n")
    assert "unknown top-level key 'studdy'" in diags[0].message and "did you mean 'study'" in diags[0].message


def test_yaml11_boolean_words_get_a_hint():
    _, diags = check("environment: {name: test, protected: yes}\n")
    assert "write true or false" in diags[0].message and diags[0].loc.line == 1


def test_missing_required_key_points_at_the_mapping():
    _, diags = check("study:\n  id: S\n  system: redcap\n  environments: []\n  forms: []\n")
    assert diags[0].message == "study is missing the required key 'name'" and diags[0].loc.line == 2


def test_wrong_type_list_where_mapping_belongs():
    _, diags = check("group: [a, b]\n")
    assert "group must be a mapping, found a list" in diags[0].message


def test_enum_with_suggestion():
    _, diags = check(STUDY.replace("openclinica", "openclinca"))
    assert "did you mean 'openclinica'" in diags[0].message and diags[0].loc.line == 4


def test_empty_file():
    parsed, _ = parse_yaml(b"", "e.yaml")
    diags = validate_file(parsed)
    assert diags[0].code == "schema" and "empty" in diags[0].message


def test_every_kind_has_a_schema():
    assert {
        "document.schema.json",
        "study.schema.json",
        "group.schema.json",
        "environment.schema.json",
        "site.schema.json",
        "person.schema.json",
        "openclinica_domain.schema.json",
    } <= set(schema_names())
