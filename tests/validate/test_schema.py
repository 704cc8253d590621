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


def test_the_schemas_are_valid_json_schema():
    """Commands no longer check the schemas against the metaschema each time (schema._validator): here."""
    import jsonschema

    from edcconf.validate import schema

    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema._inlined()}
    jsonschema.Draft202012Validator.check_schema(root)
    for name, doc in schema._schemas().items():
        jsonschema.Draft202012Validator.check_schema(doc), name


def test_the_compiled_check_and_jsonschema_judge_every_file_alike(monkeypatch):
    """The first files of a process are checked by jsonschema alone, the rest by the compiled check first
    (schema.FAST_AFTER): both paths give the same diagnostics, and the same coerced data, for the example
    configuration and for every case of the bad-input corpus that reaches the schema stage."""
    from pathlib import Path

    import yaml

    from edcconf.validate import schema

    root = Path(__file__).resolve().parents[2]
    folders = ("environments", "studies", "groups", "policies", "reviews")
    texts = [p.read_bytes() for d in folders for p in (root / d).rglob("*.yaml")]
    mini = root / "tests" / "fixtures" / "mini"
    for corpus in (root / "tests" / "bad_input").glob("*.yaml"):
        for case in yaml.safe_load(corpus.read_text())["cases"]:
            texts += [t.encode() for t in case.get("files", {}).values()]
            for edit in case.get("edit", []):  # the fixture's file with the case's change
                texts.append((mini / edit["file"]).read_text().replace(edit["old"], edit["new"]).encode())
    texts += [(STUDY + extra).encode() for extra in ("  protocol: {irb: 2024}\n", "  acess: []\n", "  status: yes\n")]
    assert len(texts) > 40
    judged = {}
    for fast_after in (10**9, 0):
        monkeypatch.setattr(schema, "FAST_AFTER", fast_after)
        out = []
        for raw in texts:
            parsed, _ = parse_yaml(raw, "f.yaml")
            if parsed is not None:
                out.append(([(d.code, d.message, d.loc.line) for d in validate_file(parsed)], repr(parsed.data)))
        judged[fast_after] = out
    assert judged[0] == judged[10**9]
    assert any(diags for diags, _ in judged[0]) and any(not diags for diags, _ in judged[0])
