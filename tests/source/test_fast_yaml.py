"""The rapidyaml reader (source.fast_yaml) gives exactly what the PyYAML reader gives, or steps aside.

Every comparison is between parse_yaml forced onto PyYAML (EDCCONF_YAML=pyyaml) and fast_yaml.read on
the same text: the same data (types included), the same packed positions, the same plain-scalar texts;
and when PyYAML refuses the text, fast_yaml.read must have refused it too (returned None)."""

import importlib.util
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edcconf.source import fast_yaml, ryml_nodes
from edcconf.source.positions import unpack
from edcconf.source.yamlfile import parse_yaml

pytestmark = pytest.mark.skipif(not fast_yaml.available(), reason="rapidyaml (the `fast` extra) is not installed")

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def reader(name: str | None):
    before = os.environ.get("EDCCONF_YAML")
    if name is None:
        os.environ.pop("EDCCONF_YAML", None)
    else:
        os.environ["EDCCONF_YAML"] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("EDCCONF_YAML", None)
        else:
            os.environ["EDCCONF_YAML"] = before


def reference(raw: bytes):
    with reader("pyyaml"):
        return parse_yaml(raw, "f.yaml")


def diag_view(diags):
    return [(d.code, d.message, d.loc.file, d.loc.line, d.loc.col) for d in diags]


def compare(raw: bytes) -> bool:
    """Asserts the two readers agree on raw; True when the fast reader read it (did not step aside)."""
    ref, ref_diags = reference(raw)
    with reader(None):
        got, got_diags = parse_yaml(raw, "f.yaml")
    assert diag_view(got_diags) == diag_view(ref_diags)
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return False
    fast = fast_yaml.read(text)
    if fast is None:
        return False
    assert not ref_diags, f"the fast reader accepted what PyYAML refuses: {diag_view(ref_diags)}"
    data, record, plain_text = fast
    assert repr(data) == repr(ref.data)  # repr tells 1 from 1.0 from True, and keeps key order
    assert record == unpack(ref.packed)
    assert plain_text == ref.plain_text
    assert repr(got.data) == repr(ref.data) and got.packed == ref.packed and got.plain_text == ref.plain_text
    return True


# --- random documents -------------------------------------------------------------------------------------

TRAPS = [
    "no",
    "yes",
    "on",
    "off",
    "NO",
    "Y",
    "0x1F",
    "0o17",
    "1_000",
    "12:30",
    "2026-01-01",
    "~",
    "null",
    "Null",
    "true",
    "False",
    "1.10",
    "007",
    "-3",
    "+4",
    ".5",
    "1e3",
    "1.5E-2",
    ".inf",
    ".nan",
    "-.inf",
    "0",
    "1.",
    "é",
    "a b",
    "a#b",
    "a: b",
    "x-y",
    "@at",
    "`tick`",
    "%pct",
    "a,b",
    "[x]",
    "{y}",
    "-",
    "--",
    "---",
    "...",
    "a ~",
]
WORDS = st.sampled_from(["id", "name", "role", "sites", "BOS", "x", "Émile", "日本", "a.b", "1", "true", "no"])


def quoted(s: str, double: bool) -> str:
    if double:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'
    return "'" + s.replace("'", "''") + "'"


plain_scalars = st.one_of(
    st.sampled_from(TRAPS), WORDS, st.from_regex(r"[a-z][a-z0-9 ._:/-]{0,12}[a-z0-9]", fullmatch=True)
)
text_for_quotes = st.text(st.sampled_from("ab 'é\"\\\t\n#:-{}[],日"), max_size=8)
scalars = st.one_of(
    plain_scalars,
    st.builds(quoted, text_for_quotes, st.booleans()),
    st.sampled_from(
        [
            '"a\\x41\\u00e9\\N"',
            "'multi\n  line'",
            '"fold\n\n  ed"',
            "plain\n  continued",
            "|\n  lit\n  eral\n",
            "|-\n  kept\n\n",
            ">\n  folded\n  text\n\n  para\n",
            ">+\n  keep\n\n",
            "|2\n    indented\n",
            "| # comment\n  x\n",
            "''",
            '""',
            "",
            "x # comment",
            "'q' # c",
        ]
    ),
)
keys = st.one_of(WORDS, st.sampled_from(["'quoted'", '"dq"', "'it''s'", '"é"', "no", "1", "<<", "? x", "a b"]))
flows = st.sampled_from(
    [
        "[]",
        "{}",
        "[ ]",
        "{ }",
        "[a, 'b', 1, [c]]",
        "{a: 1, b: [x, y], 'c': ~}",
        "[a, b: c]",
        "{a, b}",
        "[1, 2,]",
        "[\n  a,\n  b\n]",
        "{a: 1, a: 2}",
        "[ &x a, *x ]",
        "!!set {a}",
    ]
)


def nodes(leaves=None, names=keys, unique=False):
    return st.recursive(
        leaves if leaves is not None else st.one_of(scalars, flows),
        lambda inner: st.one_of(
            st.lists(st.tuples(names, inner), max_size=4, unique_by=(lambda kv: kv[0]) if unique else None).map(
                lambda kv: ("map", kv)
            ),
            st.lists(inner, max_size=4).map(lambda items: ("seq", items)),
        ),
        max_leaves=12,
    )


def render(node, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(node, str):
        return [pad + line if i == 0 else line for i, line in enumerate(node.split("\n"))]
    kind, children = node
    if not children:
        return [pad + ("{}" if kind == "map" else "[]")]
    lines: list[str] = []
    for child in children:
        key, value = child if kind == "map" else (None, child)
        lead = f"{pad}{key}:" if kind == "map" else f"{pad}-"
        if isinstance(value, str):
            first, *rest = value.split("\n")
            lines.append(f"{lead} {first}".rstrip(" ") if first else lead)
            lines.extend((pad + "  " + line) if line.strip() else line for line in rest)
        elif not value[1]:  # an empty collection: `key: {}`
            lines.append(f"{lead} {'{}' if value[0] == 'map' else '[]'}")
        elif kind == "seq":  # `- key: v` / `- - x` on the dash's line
            body = render(value, indent + 2)
            lines.append(lead + " " + body[0].lstrip(" "))
            lines.extend(body[1:])
        else:
            lines.append(lead)
            lines.extend(render(value, indent + 2))
    return lines


MUTATIONS = [
    "tab",
    "bom",
    "crlf",
    "start",
    "end",
    "second-doc",
    "comment",
    "anchor",
    "tag",
    "trailing-space",
    "dedent",
    "lone-cr",
    "nel",
    "control",
]


def mutate(text: str, mutation: str, where: int) -> str:
    lines = text.split("\n")
    at = where % max(len(lines), 1)
    if mutation == "tab":
        lines[at] = "\t" + lines[at] if where % 2 else lines[at] + "\t"
    elif mutation == "bom":
        return "\ufeff" + text
    elif mutation == "crlf":
        return text.replace("\n", "\r\n")
    elif mutation == "start":
        return "---\n" + text
    elif mutation == "end":
        return text + "...\n"
    elif mutation == "second-doc":
        return text + "---\nb: 2\n"
    elif mutation == "comment":
        lines.insert(at, " " * (where % 5) + "# a comment: [not, data]")
    elif mutation == "anchor":
        return text.replace(": ", ": &a ", 1) + "z: *a\n"
    elif mutation == "tag":
        return text.replace(": ", ": !x ", 1)
    elif mutation == "trailing-space":
        lines[at] += "  "
    elif mutation == "dedent":
        lines[at] = lines[at].lstrip(" ")
    elif mutation == "lone-cr":
        return text.replace("\n", "\r", 1)
    elif mutation == "nel":
        lines[at] += "\x85"
    elif mutation == "control":
        lines[at] += "\x07"
    return "\n".join(lines)


documents = st.builds(
    lambda node, muts: (node, muts),
    nodes(),
    st.lists(st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 50)), max_size=2),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_read_the_same(document):
    node, mutations = document
    text = "\n".join(render(node, 0)) + "\n"
    for mutation, where in mutations:
        text = mutate(text, mutation, where)
    compare(text.encode("utf-8"))


# Documents a configuration would hold: the fast reader should read most of these itself, so this is
# where its values and positions are checked most often.
clean_scalars = st.one_of(
    st.sampled_from([t for t in TRAPS if t[0] not in "@`%-[{" and ": " not in t and "#" not in t]),
    WORDS,
    st.builds(quoted, st.text(st.sampled_from("ab 'é\"\\\n:日"), max_size=6), st.booleans()),
    st.sampled_from(
        ["", "'multi\n  line'", "|\n  lit\n  eral\n", ">-\n  folded\n  text\n", "[a, 'b', 1]", "{a: 1, b: [x]}"]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes(clean_scalars, WORDS, unique=True), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_configuration_like_documents_read_the_same(node, newline, bom):
    if isinstance(node, str):
        node = ("map", [("v", node)])
    text = ("\ufeff" if bom else "") + "\n".join(render(node, 0)).replace("\n", newline) + newline
    compare(text.encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("ab1 :-#\n'\"[]{},|>&*!?~\t%."), max_size=30))
def test_random_text_reads_the_same(text):
    compare(text.encode("utf-8"))


# --- real files -------------------------------------------------------------------------------------------


def example_files():
    return sorted(p for d in ("environments", "studies", "groups") for p in (ROOT / d).rglob("*.y*ml"))


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_file_reads_the_same_and_fast(path):
    assert compare(path.read_bytes()), "the example organisation's files should not need the PyYAML reader"


def test_a_generated_organisation_reads_the_same_and_fast(tmp_path):
    """bench/generate.py's files: flow mappings per grant, long flow lists, every system."""
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.generate(tmp_path, 6, seed=11, systems=["openclinica", "redcap", "vault"])
    files = sorted(p for d in ("environments", "studies", "groups") for p in (tmp_path / d).rglob("*.yaml"))
    assert len(files) > 6
    for path in files:
        assert compare(path.read_bytes()), path


def bad_input_texts():
    for corpus in sorted((ROOT / "tests" / "bad_input").glob("*.yaml")):
        for case in yaml.safe_load(corpus.read_text())["cases"]:
            for rel, text in (case.get("files") or {}).items():
                yield pytest.param(text, id=f"{corpus.stem}:{case['name']}:{rel}")


@pytest.mark.parametrize("text", list(bad_input_texts()))
def test_bad_input_files_read_the_same(text):
    compare(text.encode("utf-8"))


@pytest.mark.parametrize(
    "text, refused",
    [
        ("a: 1\na: 2\n", True),  # duplicate key: PyYAML names both lines
        ("a: !x 1\n", True),
        ("a: &k 1\nb: *k\n", False),  # PyYAML expands aliases (bounded): the fast reader does not try
        ("a: &k {x: 1}\nb:\n  <<: *k\n", False),
        ("a: 1\n---\nb: 2\n", True),
        ("a: [1, 2\n", True),
        ("a:\n\tb: 1\n", True),
        ("a: b: c\n", True),
        ("x: " + "[" * 70 + "]" * 70 + "\n", True),
        ("]:\n", True),
    ],
)
def test_what_the_fast_reader_cannot_decide_is_left_to_pyyaml(text, refused):
    assert not compare(text.encode())
    _, diags = parse_yaml(text.encode(), "f.yaml")
    assert bool(diags) == refused


def test_the_environment_variable_forces_pyyaml(monkeypatch):
    calls = []
    monkeypatch.setattr(fast_yaml, "read", lambda text: calls.append(text))
    with reader("pyyaml"):
        parsed, _ = parse_yaml(b"a: 1\n", "f.yaml")
    assert parsed.data == {"a": 1} and calls == []
    with reader(None):
        parse_yaml(b"a: 1\n", "f.yaml")
    assert calls == ["a: 1\n"]


def test_the_node_records_are_read_as_the_binding_describes_them():
    # fast_yaml is only offered when this check, made at import, agrees on every field of every node
    assert ryml_nodes.LAYOUT_OK and fast_yaml.available()


def test_ryml_errors_do_not_reach_stderr(capfd):
    assert fast_yaml.read("a: [1, 2\n") is None
    assert capfd.readouterr().err == ""
