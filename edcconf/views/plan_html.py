"""Plans as one self-contained HTML page for a reviewer (`plan --format html`), rendered with jinja2.

Per environment and per study, a before/after access matrix: a row per grant that changes, a column per
form, each cell the level before → after, marked by the kind of change. Everything shown is read from the
plan's changes (and, for the dimmed rows of people whose access stays, from the applied state the plan was
made against): no rule is evaluated again here. The page fetches nothing: styles and the script are inline,
and its Content-Security-Policy allows only those two, by hash."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .. import __version__
from ..diagnostics import UserError
from ..model import LEVEL_RANK
from ..plan import Change, Plan
from ..plan.model import ADD_ACTIONS, REVOKE_ACTIONS
from ..resolve.effective import expand_grant

OTHERS_SHOWN = 500  # rows of unchanged access per study: context for the reviewer, not the review itself
# the kinds a cell is marked with, in the legend's order
KINDS = ("added", "revoked", "raised", "lowered", "sites", "role", "expiry")
_SIGNS = {"create": "+", "reactivate": "+", "update": "~", "revoke": "-", "deactivate": "-"}
_VERBS = {
    "create": "created",
    "reactivate": "reactivated",
    "update": "changed",
    "revoke": "revoked",
    "deactivate": "deactivated",
}


@dataclass(frozen=True)
class Cell:
    column: str  # a form's id, or role / sites / expires
    before: str | None  # None: no grant before (or after)
    after: str | None
    kind: str = ""  # one of KINDS, "" when this cell does not change
    before_marks: str = ""  # derived abilities on a form: "Q" (close queries), "SDV"
    after_marks: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after or self.before_marks != self.after_marks


@dataclass(frozen=True)
class Row:
    change: Change
    user: str
    name: str
    role_cell: Cell
    sites_cell: Cell
    expires_cell: Cell
    forms: tuple[Cell, ...]

    @property
    def kinds(self) -> list[str]:
        found = {c.kind for c in (self.role_cell, self.sites_cell, self.expires_cell, *self.forms) if c.kind}
        return [k for k in KINDS if k in found]

    @property
    def second_role(self) -> str | None:
        """The role named in a person's second grant key (`<study>/<user>/<role>`)."""
        parts = self.change.key.split("/")
        return parts[2] if len(parts) > 2 else None


@dataclass(frozen=True)
class Unchanged:
    key: str
    user: str
    name: str
    role: str
    sites: str
    expires: str
    forms: tuple[tuple[str, str], ...]  # (level, marks) per column


@dataclass(frozen=True)
class StudyView:
    study: str
    forms: tuple[str, ...]
    rows: tuple[Row, ...]
    others: tuple[Change, ...]  # the study's changes that are not grants (the study itself)
    unchanged: tuple[Unchanged, ...]
    unchanged_more: int  # rows of unchanged access not shown (over OTHERS_SHOWN)
    counts: Mapping[str, int]


@dataclass(frozen=True)
class EnvironmentView:
    plan: Plan
    guards: tuple[Change, ...]  # `environment` changes: protection and safety, shown first
    general: tuple[Change, ...]  # accounts, groups and sites
    studies: tuple[StudyView, ...]
    unread: tuple  # drift-unchecked warnings: studies whose live access was not read
    unchanged_known: bool  # the applied state was at hand to list the access that stays


def _counts(changes: Sequence[Change]) -> dict[str, int]:
    add = sum(c.action in ADD_ACTIONS for c in changes)
    revoke = sum(c.action in REVOKE_ACTIONS for c in changes)
    return {"add": add, "change": len(changes) - add - revoke, "revoke": revoke}


def _marks(grant: Mapping | None, form: str) -> str:
    if not grant:
        return ""
    return " ".join(m for m, ability in (("Q", "close_queries"), ("SDV", "sdv")) if form in grant.get(ability, ()))


def _rank(level: str | None) -> int:
    return LEVEL_RANK.get(level or "none", 0)


def form_cell(form: str, before: Mapping | None, after: Mapping | None) -> Cell:
    """A form's level before and after; a grant added or revoked marks the forms it reaches, an update
    marks a level raised or lowered (at the same level, abilities gained raise it, any lost lowers it)."""
    was = before["forms"].get(form) if before else None
    now = after["forms"].get(form) if after else None
    was_marks, now_marks = _marks(before, form), _marks(after, form)
    if before is None:
        kind = "added" if _rank(now) > 0 else ""
    elif after is None:
        kind = "revoked" if _rank(was) > 0 else ""
    elif _rank(now) != _rank(was):
        kind = "raised" if _rank(now) > _rank(was) else "lowered"
    else:
        gained = any(form in after.get(a, ()) and form not in before.get(a, ()) for a in ("close_queries", "sdv"))
        lost = any(form in before.get(a, ()) and form not in after.get(a, ()) for a in ("close_queries", "sdv"))
        kind = "lowered" if lost else "raised" if gained else ""
    return Cell(form, was, now, kind, was_marks, now_marks)


def _role_label(grant: Mapping | None) -> str | None:
    if not grant:
        return None
    label = (
        grant["role"] if grant.get("base_role") in (None, grant["role"]) else f"{grant['role']} ({grant['base_role']})"
    )
    return label + (", study status disabled" if grant.get("study_status") == "disabled" else "")


def _sites_label(grant: Mapping | None) -> str | None:
    if not grant:
        return None
    sites = ", ".join(grant.get("sites", ()))
    if grant.get("site_access") == "all":
        return f"all: {sites}"
    if grant.get("countries"):
        return f"{', '.join(grant['countries'])}: {sites}"
    return sites


def _expires_label(grant: Mapping | None) -> str | None:
    if not grant:
        return None
    return str(grant["expires"]) if grant.get("expires") else "never"


def _field_cell(column: str, kind: str, label, change: Change) -> Cell:
    before, after = label(change.before), label(change.after)
    marked = change.action == "update" and before != after
    return Cell(column, before, after, kind if marked else "")


def grant_row(change: Change, forms: Sequence[str], names: Mapping[str, str]) -> Row:
    value = change.after or change.before or {}
    user = value.get("user") or change.key.split("/")[1]
    return Row(
        change,
        user,
        names.get(user, ""),
        _field_cell("role", "role", _role_label, change),
        _field_cell("sites", "sites", _sites_label, change),
        _field_cell("expires", "expiry", _expires_label, change),
        tuple(form_cell(f, change.before, change.after) for f in forms),
    )


def _forms_of(grants: Sequence[Mapping | None]) -> tuple[str, ...]:
    """The study's forms, in the order its grants list them (the study file's order)."""
    seen: dict[str, None] = {}
    for grant in grants:
        if grant:
            seen.update(dict.fromkeys(grant.get("forms", {})))
    return tuple(seen)


def _names(plan: Plan, applied: Mapping | None) -> dict[str, str]:
    names = {
        user: (account or {}).get("name") or "" for user, account in ((applied or {}).get("accounts") or {}).items()
    }
    for c in plan.changes:
        if c.kind == "account":
            names[c.key] = (c.after or c.before or {}).get("name") or names.get(c.key, "")
    return names


def _unchanged(study: str, changed: set[str], applied: Mapping) -> list[tuple[str, dict]]:
    # the state's own role table: joins data, evaluates no rule

    out: list = []
    for key, grant in (applied.get("grants") or {}).items():
        if grant.get("study") == study and key not in changed:
            out.append((key, expand_grant(applied, grant)))
    return sorted(out)


def study_view(study: str, changes: list[Change], applied: Mapping | None, names: Mapping[str, str]) -> StudyView:
    grants = [c for c in changes if c.kind == "grant"]
    unchanged = _unchanged(study, {c.key for c in grants}, applied) if applied else []
    forms = _forms_of([v for c in grants for v in (c.before, c.after)] + [g for _, g in unchanged])
    rows = tuple(grant_row(c, forms, names) for c in sorted(grants, key=lambda c: c.key))
    shown = tuple(
        Unchanged(
            key,
            g["user"],
            names.get(g["user"], ""),
            _role_label(g) or "",
            _sites_label(g) or "",
            _expires_label(g) or "",
            tuple((g["forms"].get(f, "none"), _marks(g, f)) for f in forms),
        )
        for key, g in unchanged[:OTHERS_SHOWN]
    )
    return StudyView(
        study,
        forms,
        rows,
        tuple(c for c in changes if c.kind != "grant"),
        shown,
        max(len(unchanged) - OTHERS_SHOWN, 0),
        _counts(changes),
    )


def environment_view(plan: Plan, applied: Mapping | None = None) -> EnvironmentView:
    """applied: the effective state the plan was made against (its serial), to list the access that stays;
    None when it is not at hand (a saved plan), and then only the changes are shown."""
    names = _names(plan, applied)
    guards = tuple(c for c in plan.changes if c.kind == "environment")
    general = tuple(c for c in plan.changes if not c.study and c.kind != "environment")
    studied = sorted((c for c in plan.changes if c.study), key=lambda c: c.study or "")
    studies = tuple(
        study_view(study, list(cs), applied, names) for study, cs in groupby(studied, key=lambda c: c.study)
    )
    unread = tuple(w for w in plan.warnings if w.code == "drift-unchecked")
    return EnvironmentView(plan, guards, general, studies, unread, applied is not None)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("edcconf.views", "templates"),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        sign=lambda action: _SIGNS[action], verb=lambda c: "invited" if c.invite else _VERBS[c.action], counts=_counts
    )
    return env


def render_plan_html(
    plans: Sequence[Plan], applied: Sequence[Mapping | None] | None = None, title_note: str = ""
) -> Iterator[str]:
    """The page, in chunks (a first rollout's plan is large). applied: per plan, see environment_view.
    title_note: a line under the title (a saved plan's file, digest and date)."""
    env = _environment()
    # static package files, not data: inserted as they are, and allowed by the page's policy by hash
    loader = env.loader
    assert loader is not None, "the package's template loader"
    css = loader.get_source(env, "plan.html.css.j2")[0]
    js = loader.get_source(env, "plan.html.js.j2")[0]
    views = [environment_view(p, a) for p, a in zip(plans, applied or [None] * len(plans))]
    template = env.get_template("plan.html.j2")
    return template.generate(
        views=views,
        kinds=KINDS,
        version=__version__,
        title_note=title_note,
        css=Markup(css),
        js=Markup(js),
        csp_style=Markup(_csp_hash(css)),
        csp_script=Markup(_csp_hash(js)),
    )


def applied_for(planned: Any, root, read_state) -> Mapping | None:
    """The applied effective state a plan was made against, when it is the one the backend holds now
    (a plan made now carries it; one from the memo reads it again). None for another serial."""
    previous = getattr(planned, "previous", None)
    if previous is None:
        try:
            previous = read_state(root, planned.plan.environment)
        except UserError:  # the dimmed rows are context: a state that cannot be read now only hides them
            return None
    return previous.effective if previous.serial == planned.plan.serial else None
