"""The incremental planner stays exact with qualifications: grants suspended for a lapsed qualification
are carried per study file (speed/incremental), a custom role that starts requiring a training is a
study-file change planned incrementally, and a grant added for an unqualified person is refused on both
paths; every plan equals the one made with EDCCONF_NO_CACHE=1."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import generate_org, run_cli

LAPSE = date.today() + timedelta(days=30)  # u00057's gcp: valid through this day
AS_OF = LAPSE + timedelta(days=1)
AT = ("--at", AS_OF.isoformat())
NO_CACHE = {"EDCCONF_NO_CACHE": "1"}


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    root = tmp_path_factory.mktemp("qualified") / "org"
    generate_org(root, 6)
    (root / "environments" / "qualifications.yaml").write_text(
        "qualifications:\n"
        "  - {id: gcp, notify_days: 10, base_roles: {openclinica: all, redcap: all, vault: all}}\n"
        "  - {id: site-training}\n"
    )
    later = date.today() + timedelta(days=1000)
    for path in (root / "groups").glob("*.yaml"):
        text = re.sub(
            r"(\{username: (u\d+), [^\n]*?)\}$",
            lambda m: (
                m.group(1) + f", qualifications: {{gcp: {{expires: {LAPSE if m.group(2) == 'u00057' else later}}}}}}}"
            ),
            path.read_text(),
            flags=re.M,
        )
        path.write_text(text)
    r = run_cli("apply", "--env", "test", "--yes", cwd=root, env=NO_CACHE)
    assert r.code == 0, r
    return root


def _plan(root: Path, cached: bool) -> tuple[int, str, str, str]:
    extra = None if cached else NO_CACHE
    js = run_cli("plan", "--env", "test", "--json", *AT, cwd=root, env=extra)
    text = run_cli("plan", "--env", "test", *AT, cwd=root, env=extra)
    return text.code, text.out, text.err, js.out


def _incremental(root: Path) -> bool:
    from edcconf.speed.incremental.replay import IncrementalPlanned
    from edcconf.workflow import plan_for_review

    return isinstance(plan_for_review(root, "test", AS_OF, True), IncrementalPlanned)


def _edit(path: Path, pattern: str, replacement: str) -> None:
    new, n = re.subn(pattern, replacement, path.read_text(), count=1)
    assert n == 1, (path, pattern)
    path.write_text(new)


def test_incremental_plans_with_qualifications_equal_the_full_ones(applied, tmp_path):
    root = tmp_path / "org"
    shutil.copytree(applied, root, ignore=shutil.ignore_patterns("cache"))
    first = _plan(root, cached=True)  # the full plan that stores the base
    assert first[0] == 2 and "suspended: u00057's gcp expired on" in first[1], first
    assert "[qualification-suspended]" in first[1]

    studies = root / "studies"
    # a grant elsewhere changes: the suspension is carried from the base
    _edit(studies / "re-00001.yaml", r"environments: all, sites: all\}", "environments: [production], sites: all}")
    assert _incremental(root)
    cached, fresh = _plan(root, cached=True), _plan(root, cached=False)
    assert cached == fresh and "suspended: u00057's gcp" in fresh[1]

    # a custom role starts requiring a training nobody holds: its applied grants are suspended
    _edit(
        studies / "op-00000.yaml", r"custom_1: \{base: viewer,", "custom_1: {base: viewer, requires: [site-training],"
    )
    assert _incremental(root)
    cached, fresh = _plan(root, cached=True), _plan(root, cached=False)
    assert cached == fresh and "lacks site-training (never held), required by role custom_1 of OP-00000" in fresh[1]

    # a grant added for a person without the training is refused, on both paths alike
    _edit(
        studies / "op-00000.yaml",
        r"(\n    - \{user: u00115, [^\n]*)",
        r"\1\n    - {user: u00116, role: custom_1, environments: [test], sites: all}",
    )
    cached, fresh = _plan(root, cached=True), _plan(root, cached=False)
    assert cached == fresh and cached[0] == 1, cached
    assert "error[qualification-missing]: u00116 lacks site-training" in cached[2]
