"""Import -> export round trips on files written from the systems' published formats
(tests/fixtures/published/README.md says where each comes from): every row keeps its rights, the
built-in no-rights group stays REDCap's own, and a default group stays the default."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

# in-process CLI runs: these tests check exit codes, outputs and files, which a subprocess shows no differently
from tests.conftest import REPO, run_cli

PUBLISHED = Path(__file__).resolve().parents[1] / "fixtures" / "published"


def _rows(path: Path, key: str) -> dict[str, dict]:
    return {r[key]: r for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}


def _fresh(tmp_path: Path) -> Path:
    root = tmp_path / "fresh"
    shutil.copytree(REPO / "environments", root / "environments")
    return root


def test_sag_files_round_trip_row_for_row(tmp_path):
    root = _fresh(tmp_path)
    defs, assigns = PUBLISHED / "sag-definitions.csv", PUBLISHED / "sag-assignments.csv"
    imported = run_cli("import", "sag", defs, assigns, cwd=root)
    assert imported.code == 0, imported
    assert run_cli("export", "files", "--env", "test", "-o", tmp_path / "out", cwd=root).code == 0
    before, after = _rows(defs, "sag_id"), _rows(tmp_path / "out/groups/sag-definitions.csv", "sag_id")
    assert set(before) == set(after)
    for sag_id, row in before.items():
        assert {k: v for k, v in row.items() if k != "sag_name"} == {
            k: v for k, v in after[sag_id].items() if k in row and k != "sag_name"
        }, sag_id
    assigned = _rows(tmp_path / "out/groups/sag-assignments.csv", "username")
    assert {u: r["sag_id"] for u, r in assigned.items()} == {
        u: r["sag_id"] for u, r in _rows(assigns, "username").items()
    }


def test_acg_files_round_trip_row_for_row_with_their_default(tmp_path):
    root = _fresh(tmp_path)
    defs, assigns = PUBLISHED / "acg-definitions.csv", PUBLISHED / "acg-assignments.csv"
    imported = run_cli("import", "acg", defs, assigns, cwd=root)
    assert imported.code == 0 and "import-no-email" in imported.out, imported  # ACG files carry no e-mail
    assert run_cli("export", "files", "--env", "test", "-o", tmp_path / "out", cwd=root).code == 0
    before, after = _rows(defs, "group_id"), _rows(tmp_path / "out/groups/acg-definitions.csv", "group_id")
    assert set(before) == set(after)
    for gid, row in before.items():
        assert row == after[gid], gid
    assert [g for g, r in after.items() if r["is_default_group"] == "1"] == ["G-1A2B3C4D5E6F7"]
    assigned = _rows(tmp_path / "out/groups/acg-assignments.csv", "Username")
    assert {u: r["ACG ID"] for u, r in assigned.items()} == {
        u: r["ACG ID"] for u, r in _rows(assigns, "Username").items()
    }
    assert run_cli("state", "import", "--env", "test", "acg", defs, assigns, cwd=root).code == 0
    plan = run_cli("plan", "--env", "test", "--json", cwd=root)
    assert plan.code == 0 and plan.json["changes"] == [], plan
