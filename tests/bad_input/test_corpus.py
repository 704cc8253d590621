"""The bad-input corpus: every case is a small configuration (a patch over tests/fixtures/mini) with the
exact error codes at the exact file:line that must come out of `edcconf validate`, and never a traceback.

Case fields: `name`; `files` (path: text) and `bytes` (path: text with \\x escapes, for encodings);
`edit` ([{file, old, new}]); `remove` ([paths]); `links` (path: target of a symbolic link made there);
`sized` (path: a YAML comment file of exactly that many bytes); `expect` (["code@path:line", ...]: exactly these errors,
or [] for input that must be accepted); `warns` (["code@path:line", ...]: exactly the warnings with these
codes); `says` (substrings the messages must contain, warnings' included)."""

import codecs
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, copy_config
from tests.conftest import run_inprocess as run

HERE = Path(__file__).resolve().parent


def cases():
    for path in sorted(HERE.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text())["cases"]:
            yield pytest.param(case, id=f"{path.stem}:{case['name']}")


ALL = list(cases())


def build(tmp_path: Path, case: dict) -> Path:
    root = copy_config(FIXTURES / "mini", tmp_path / "repo")
    for rel in case.get("remove", []):
        (root / rel).unlink()
    for item in case.get("edit", []):
        path = root / item["file"]
        text = path.read_text()
        assert item["old"] in text, f"case {case['name']}: {item['old']!r} not in {item['file']}"
        path.write_text(text.replace(item["old"], item["new"], 1))
    for rel, text in (case.get("files") or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for rel, text in (case.get("bytes") or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(codecs.decode(text, "unicode_escape").encode("latin-1"))
    for rel, size in (case.get("sized") or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"#" * (size - 1) + b"\n")
    for rel, target in (case.get("links") or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(target)
    return root


def test_the_corpus_is_large_enough():
    assert len(ALL) >= 80


@pytest.mark.parametrize("case", ALL)
def test_case(tmp_path, case):
    import json

    root = build(tmp_path, case)
    code, out, err = run(root, "validate", "--json")
    assert "Traceback" not in out + err and code in (0, 1), (code, out, err)
    doc = json.loads(out)
    got = sorted(f"{e['code']}@{e['source']}" for e in doc["errors"])
    assert got == sorted(case["expect"]), f"{case['name']}: {doc['errors']}"
    assert code == (1 if case["expect"] else 0)
    if "warns" in case:
        codes = {w.split("@")[0] for w in case["warns"]}
        warned = sorted(f"{w['code']}@{w['source']}" for w in doc["warnings"] if w["code"] in codes)
        assert warned == sorted(case["warns"]), f"{case['name']}: {doc['warnings']}"
    messages = " ".join(e["message"] for e in doc["errors"] + doc["warnings"])
    for text in case.get("says", []):
        assert text in messages, f"{case['name']}: {text!r} not in {messages!r}"
    if case["expect"]:  # the text form names file:line:col and the code, on stderr, exit 1
        code, out, err = run(root, "validate")
        assert code == 1 and "Traceback" not in out + err
        for e in doc["errors"]:
            assert f"{e['source']}:" in err and f"error[{e['code']}]" in err


@pytest.mark.parametrize("case", [c for c in ALL if "yaml_layer" in c.id or "schema_layer" in c.id])
def test_case_parsed_by_workers(tmp_path, case, monkeypatch):
    """The same errors at the same places when forked workers parse and check the files."""
    import json

    monkeypatch.setenv("EDCCONF_WORKERS", "2")
    root = build(tmp_path, case)
    code, out, err = run(root, "validate", "--json")
    assert "Traceback" not in out + err and code in (0, 1), (code, out, err)
    got = sorted(f"{e['code']}@{e['source']}" for e in json.loads(out)["errors"])
    assert got == sorted(case["expect"]), case["name"]
