"""Our own conformance cases, in the format of the shared suite (../shared/conformance/cases.yaml):
small configurations written inline, CLI steps, and what DESIGN.md says must come out."""

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_edcconf

HERE = Path(__file__).resolve().parent
CASE_FILES = sorted(HERE.glob("cases-*.yaml"))


def load_cases():
    for path in CASE_FILES:
        doc = yaml.safe_load(path.read_text())
        for case in doc["cases"]:
            yield pytest.param(doc.get("bases", {}), case, id=f"{path.stem}:{case['name']}")


def write_files(root: Path, files: dict) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def check_step(step: dict, result) -> None:
    assert "Traceback" not in result.out + result.err, result
    if "exit" in step:
        assert result.code == step["exit"], result
    if not any(k in step for k in ("errors", "mentions", "grants", "absent", "warnings")):
        return
    doc = result.json
    if step.get("errors"):
        codes = {e["code"] for e in doc["errors"]}
        assert set(step["errors"]) <= codes, (step["errors"], doc["errors"])
        assert all(":" in e["source"] for e in doc["errors"])
        for want in step.get("at", []):
            assert want in {e["source"] for e in doc["errors"]}, (want, doc["errors"])
    blob = str(doc.get("errors", [])) + str(doc.get("warnings", []))
    for text in step.get("mentions", []):
        assert text in blob, (text, blob[:500])
    for text in step.get("warnings", []):
        assert text in str(doc.get("warnings", [])), (text, doc.get("warnings"))
    grants = {c["key"]: c for c in doc.get("changes", []) if c["kind"] == "grant"}
    for key, expected in (step.get("grants") or {}).items():
        assert key in grants and grants[key]["after"] is not None, (key, sorted(grants))
        after = grants[key]["after"]
        for form, level in (expected.get("forms") or {}).items():
            assert after["forms"].get(form) == level, (key, form, after["forms"])
        if "sites" in expected:
            assert sorted(after["sites"]) == sorted(expected["sites"]), (key, after["sites"])
        for field in ("role", "base_role", "expires"):
            if field in expected:
                assert str(after.get(field)) == str(expected[field]), (key, field, after.get(field))
    for key in step.get("absent", []):
        assert key not in grants or grants[key]["after"] is None, key


@pytest.mark.parametrize("bases,case", list(load_cases()))
def test_case(tmp_path, bases, case):
    root = tmp_path / "repo"
    files = dict(bases.get(case.get("base"), {}) if case.get("base") else {})
    files.update(case.get("files", {}))
    for rel in case.get("remove", []):
        files.pop(rel, None)
    write_files(root, files)
    for step in case["steps"]:
        if "move" in step:
            src, dst = step["move"]
            (root / dst).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(root / src, root / dst)
            continue
        if "write" in step:
            write_files(root, step["write"])
            continue
        args = [str(a) for a in step["run"]]
        if step.get("json", True) and "--json" not in args:
            args.append("--json")
        check_step(step, run_edcconf(*args, cwd=root))
