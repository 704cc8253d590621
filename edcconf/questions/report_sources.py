"""The report's inputs: the matrix from its source (declared, applied, live) and the overview's figures.

The applied state is read once: for `--applied`, for `--live` (a study not read shows no access: it is
unknown), for the non-compliant rights (compliance.non_compliant_pairs over applied, or live, access) and
for the plan's changes against it (plan.make_plan, as `plan --no-refresh` makes them). With the declared
source a state that cannot be read is no error: those two sections of the overview say why they are missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..diagnostics import UserError
from ..pipeline import Desired
from ..plan import make_plan
from ..resolve.sections import recorded
from ..state import open_backend
from .compliance import non_compliant_pairs
from .drift import refuse_unread
from .live_access import live_effective
from .report import matrix, matrix_from_state
from .report_overview import overview


def report_document(
    root: Path,
    desired: Desired,
    env: str,
    source: str = "declared",
    allow_unread: bool = False,
    warn: Callable[[tuple], None] = lambda unread: None,
    limits: dict | None = None,
) -> dict:
    """The report of env as one plain document (the JSON written beside the pages). A study whose live
    access could not be read is a UserError (live-unread) unless allow_unread: then warn(unread) is called
    and the study is marked NOT read on the pages."""

    model, as_of = desired.model, desired.resolution.as_of
    environment = model.environments[env]
    try:
        applied, unavailable = open_backend(root, environment).read(), ""
    except UserError as exc:
        if source != "declared":
            raise
        applied, unavailable = None, f"the applied state of {env} could not be read: {exc.message}"
    compared = applied
    if source == "declared":
        doc = matrix(desired, env)
    elif source == "applied":
        assert applied is not None  # only a declared report goes on without the state
        doc = matrix_from_state(model, applied.effective, env, as_of, "applied")
    else:
        assert applied is not None  # only a declared report goes on without the state
        effective, reads = live_effective(root, environment, applied, model)
        if not allow_unread:
            refuse_unread(env, reads.unread)
        warn(reads.unread)
        unread = dict(reads.unread)
        status = {s: ("read", "") for s in reads.read}
        status.update({s: ("unread" if s in unread else "unchecked", why) for s, why in reads.unchecked})
        doc = matrix_from_state(model, effective, env, as_of, "live", status)
        # compliance over what was read: a study not read has no grants here rather than its applied ones
        effective = {**effective, "grants": {k: g for k, g in effective["grants"].items() if g["study"] in reads.read}}
        compared = replace(applied, effective=recorded(effective))
    if applied is not None:
        doc["state"] = {"serial": applied.serial, "lineage": applied.lineage}
    pairs = non_compliant_pairs(model, compared, as_of) if compared is not None else None
    changes = None
    if applied is not None:
        env_state = desired.resolution.environments[env]
        changes = make_plan(env_state, applied.effective, applied.sources, applied.serial, applied.lineage).changes
    doc["overview"] = overview(doc, pairs, changes, limits, unavailable)
    return doc
