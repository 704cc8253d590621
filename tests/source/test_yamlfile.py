"""Load stage: positions, YAML 1.1 traps, duplicate keys, tags, anchors and bounded expansion."""

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edcconf.source import load_sources
from edcconf.source.yamlfile import MAX_ALIASED_NODES, parse_yaml, resolve_plain_scalar


def parse(text: str):
    parsed, diags = parse_yaml(text.encode(), "f.yaml")
    return parsed, diags


def test_positions_are_one_based_line_and_column():
    parsed, diags = parse("a:\n  b: [x, y]\n")
    assert not diags
    assert parsed.positions[("a", "b", 1)] == (2, 10)
    assert str(parsed.loc(("a", "b"))) == "f.yaml:2"
    assert parsed.key_positions[("a", "b")] == (2, 3)


@pytest.mark.parametrize("text", ["NO", "no", "on", "Off", "yes", "Y", "2026-01-31", "1.10.2", "0x1F", "12:30"])
def test_yaml11_traps_stay_text(text):
    parsed, diags = parse(f"v: {text}\n")
    assert not diags
    assert parsed.data["v"] == text


def test_plain_numbers_remember_what_was_written():
    parsed, _ = parse("v: 1.10\nw: 007\n")
    assert parsed.data == {"v": 1.1, "w": 7}
    assert parsed.plain_text[("v",)] == "1.10" and parsed.plain_text[("w",)] == "007"
    assert ("d",) not in parse("d: ~\n")[0].plain_text  # null is nothing, never the text '~'


def test_quoted_scalars_are_always_text():
    parsed, _ = parse("a: 'true'\nb: \"12\"\nc: true\nd: ~\n")
    assert parsed.data == {"a": "true", "b": "12", "c": True, "d": None}


def test_duplicate_key_is_an_error_at_the_second_key():
    _, diags = parse("study:\n  id: A\n  name: x\n  id: B\n")
    assert [(d.code, d.loc.line, d.loc.col) for d in diags] == [("duplicate-key", 4, 3)]
    assert "first defined at line 2" in diags[0].message


@pytest.mark.parametrize(
    "text",
    ["a: !!python/object/apply:os.system [echo hi]\n", "a: !custom x\n", "a: !!set {x, y}\n", "a: !!binary aGk=\n"],
)
def test_tags_that_build_objects_are_refused(text):
    parsed, diags = parse(text)
    assert parsed is None and diags[0].code == "yaml-syntax" and "not allowed" in diags[0].message


def test_merge_keys_and_anchors_expand_with_explicit_keys_winning():
    parsed, diags = parse("base: &b {role: crc, sites: all}\ngrant: {<<: *b, role: monitor}\n")
    assert not diags
    assert parsed.data["grant"] == {"role": "monitor", "sites": "all"}


def test_alias_bomb_is_refused_quickly():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    start = time.monotonic()
    parsed, diags = parse("\n".join(lines) + "\n")
    assert parsed is None and diags[0].code == "yaml-syntax" and f"{MAX_ALIASED_NODES:,}" in diags[0].message
    assert time.monotonic() - start < 5


def test_deep_nesting_is_refused():
    parsed, diags = parse("a: " + "[" * 100 + "]" * 100 + "\n")
    assert parsed is None and "nesting deeper" in diags[0].message


def test_malformed_yaml_points_at_the_problem():
    _, diags = parse("a: [1, 2\nb: 3\n")
    assert diags[0].code == "yaml-syntax" and diags[0].loc.line == 2


def test_tabs_give_a_hint():
    _, diags = parse("a:\n\tb: 1\n")
    assert diags[0].code == "yaml-syntax" and "tab" in diags[0].message


def test_not_utf8_and_bom():
    _, diags = parse_yaml(b"a: caf\xe9\n", "f.yaml")
    assert diags[0].code == "yaml-syntax" and "UTF-8" in diags[0].message and diags[0].loc.line == 1
    parsed, diags = parse_yaml("\ufeffa: b\n".encode(), "f.yaml")
    assert not diags and parsed.data == {"a": "b"}


def test_multiple_documents_are_an_error():
    _, diags = parse("a: 1\n---\nb: 2\n")
    assert diags and diags[0].code == "yaml-syntax"


def test_load_sources_reads_only_the_three_directories(tmp_path):
    (tmp_path / "studies" / "deep").mkdir(parents=True)
    (tmp_path / "studies" / "deep" / "s.yml").write_text("study: {}\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "x.yaml").write_text("not: [valid\n")
    sources = load_sources(tmp_path)
    assert [f.path for f in sources.files] == ["studies/deep/s.yml"] and not sources.diagnostics


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_resolution_never_raises_and_yields_plain_data(text):
    value = resolve_plain_scalar(text)
    assert value is None or isinstance(value, (str, int, float, bool))


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 200_000 + "]" * 200_000,
        "- " * 200_000 + "x",
        "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 400)),
    ],
)
def test_nesting_that_would_crash_the_composer_is_refused_first(tmp_path, text):
    """PyYAML's C composer recurses and crashes (SIGSEGV) near 100,000 levels: prove we never get there."""
    import subprocess
    import sys

    path = tmp_path / "deep.yaml"
    path.write_text(text)
    script = (
        "import sys; from edcconf.source.yamlfile import parse_yaml\n"
        "p, d = parse_yaml(open(sys.argv[1], 'rb').read(), 'deep.yaml')\n"
        "print(d[0].code, d[0].message)"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("yaml-syntax nesting deeper than")


def _exact_flow_depth(text: str) -> int:
    """nesting_problem's exact count, one token at a time (what flow_depth_bound must never undercut)."""
    from edcconf.source.yamlfile import _FLOW_TOKENS

    depth = deepest = 0
    for token in _FLOW_TOKENS.finditer(text):
        ch = token.group()
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}" and depth:
            depth -= 1
    return deepest


@given(st.text(alphabet="[]{}'\"#\\ \n:,-ab", max_size=300))
def test_the_fast_flow_depth_bound_never_undercuts_the_exact_count(text):
    from edcconf.source.yamlfile import flow_depth_bound

    assert flow_depth_bound(text) >= _exact_flow_depth(text)


# the skipped tokens as first written (each alternative opening with its lookbehind): the same spans
_LOOKBEHIND_FIRST = r"""(?<![^\s\[{,:?-])'(?:[^']|'')*'|(?<![^\s\[{,:?-])"(?:[^"\\]|\\.)*"|(?<!\S)#[^\n]*"""


@given(st.text(alphabet="[]{}'\"#\\ \n\t:,?-ab", max_size=200))
def test_the_skipped_tokens_are_the_spans_of_the_lookbehind_first_pattern(text):
    import re

    from edcconf.source.yamlfile import _SKIPPED_TOKENS

    assert [m.span() for m in _SKIPPED_TOKENS.finditer(text)] == [
        m.span() for m in re.finditer(_LOOKBEHIND_FIRST, text)
    ]


def test_the_fast_flow_depth_bound_is_exact_on_balanced_brackets():
    from edcconf.source.yamlfile import flow_depth_bound

    grants = "access:\n" + "".join(f"  - {{user: u{i}, sites: [A, B], note: '[x'}}\n" for i in range(300))
    assert flow_depth_bound(grants) == _exact_flow_depth(grants) == 2
    assert flow_depth_bound("[" * 300 + "]" * 300) == 300
    assert flow_depth_bound("# [[[[\n'{{{' [a]") == 1
