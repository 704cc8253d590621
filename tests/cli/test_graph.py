"""`edcconf graph`: the effective permission graph, exported for a study, a person or everything, read back
with networkx (GraphML) and checked as Graphviz DOT text."""

from __future__ import annotations

import networkx as nx

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import run_cli


def _graphml(root, tmp_path, *args):
    out = tmp_path / "g.graphml"
    result = run_cli("graph", "--format", "graphml", "-o", str(out), *args, cwd=root)
    assert result.code == 0, result
    return nx.read_graphml(out)


def test_a_study_part_holds_its_people_roles_levels_and_sources(mini_repo, tmp_path):
    g = _graphml(mini_repo, tmp_path, "--study", "HEART-01")
    people = sorted(n for n in g if n.startswith("person:"))
    assert people == ["person:cara.crc", "person:dina.dm", "person:ivan.inv", "person:mona.mon", "person:vera.view"]
    levels = {
        v: d["level"] for u, v, d in g.edges(data=True) if u == "role:HEART-01/safety_monitor" and d["kind"] == "level"
    }
    assert levels == {
        "form:HEART-01/adverse_events": "review",
        "form:HEART-01/contact_info": "none",
        "form:HEART-01/vitals": "review",
    }
    (granted,) = [d for u, v, d in g.edges(data=True) if u == "person:cara.crc" and d["kind"] == "granted"]
    assert granted["source"] == "studies/heart.yaml:18" and granted["sites"] == '["BOS"]'


def test_env_filter_and_person_part(mini_repo, tmp_path):
    only_test = _graphml(mini_repo, tmp_path, "--study", "HEART-01", "--env", "test")
    assert "person:vera.view" not in only_test  # granted in production only
    assert "environment:production" not in only_test
    cara = _graphml(mini_repo, tmp_path, "--user", "cara.crc")
    assert sorted(n.split(":")[0] for n in cara if not n.startswith("form:")) == [
        "base_role",
        "group",
        "person",
        "role",
        "study",
    ]


def test_dot_is_quoted_and_an_unknown_name_is_a_user_error(mini_repo):
    dot = run_cli("graph", "--user", "cara.crc", cwd=mini_repo)
    assert dot.code == 0 and dot.out.startswith("digraph edcconf {") and dot.out.rstrip().endswith("}")
    assert '"person:cara.crc" -> "role:HEART-01/crc" [label="granted at BOS (test, production)"' in dot.out
    unknown = run_cli("graph", "--user", "cara.crcc", cwd=mini_repo)
    assert unknown.code == 1 and "did you mean 'cara.crc'" in unknown.err and "Traceback" not in unknown.err
