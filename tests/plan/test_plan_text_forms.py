"""The plan text's forms line is made once per role version's dict (views/plan_text._FormsLines) and is
the line of each grant's own levels: shared dicts, separate equal dicts, and more dicts than it remembers."""

from __future__ import annotations

from datetime import date

import pytest

from edcconf.plan import Change
from edcconf.plan.model import Plan
from edcconf.views import plan_text
from edcconf.views.plan_text import render_plan


def _grant(study: str, user: str, forms: dict) -> Change:
    after = {"role": "viewer", "base_role": "viewer", "sites": ["S1"], "forms": forms, "study": study, "user": user}
    return Change("create", "grant", f"{study}/{user}", None, after, "granted", "studies/x.yaml:1", study=study)


def _forms_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("forms:")]


@pytest.mark.parametrize("remembered", [4_096, 1])
def test_each_grant_shows_its_own_levels(monkeypatch, remembered):
    monkeypatch.setattr(plan_text, "_FORMS_MEMO", remembered)
    shared = {"f1": "read", "f2": "none"}
    changes = [
        _grant("A", "u1", shared),
        _grant("A", "u2", {"f1": "edit"}),
        _grant("A", "u3", shared),
        _grant("B", "u4", dict(shared)),  # equal, not the same dict
        _grant("B", "u5", {"f1": "edit", "f3": "read"}),
        _grant("B", "u6", shared),
    ]
    text = render_plan(Plan("test", 0, None, date(2026, 12, 2), tuple(changes)))
    want = ["forms: " + ", ".join(f"{f} {lvl}" for f, lvl in c.after["forms"].items()) for c in changes]
    assert _forms_lines(text) == want
