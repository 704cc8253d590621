"""Plans as a pull-request comment (`plan --format markdown`), rendered with jinja2.

GitHub refuses comments over 65,536 characters; a large plan is summarised by showing fewer changes
per study until it fits, always keeping the summary table, the brakes and every study's counts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from itertools import groupby

from jinja2 import Environment, PackageLoader, StrictUndefined

from .. import __version__
from ..plan import Plan
from ..plan.model import REVOKE_ACTIONS
from ..resolve.reviews import REVIEW_REASONS
from ..rules.book import all_rules
from ..rules.qualifications import SUSPENDED

GITHUB_COMMENT_LIMIT = 65_536
_SIGNS = {"create": "➕", "reactivate": "➕", "update": "✏️", "revoke": "➖", "deactivate": "➖"}


def _md(text: object) -> str:
    """Text safe inside a table cell: no pipes or newlines breaking the row, no HTML."""
    return (
        str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("\n", " ")
    )


class _Group:
    def __init__(self, title: str, changes: list, always_open: bool = False) -> None:
        self.title, self.changes, self.always_open = title, changes, always_open
        add = sum(c.action in ("create", "reactivate") for c in changes)
        revoke = sum(c.action in ("revoke", "deactivate") for c in changes)
        self.counts = f"+{add} ~{len(changes) - add - revoke} -{revoke}"


def _group_by_study(changes) -> list[_Group]:
    guards = [c for c in changes if c.kind == "environment"]  # first: read before what they let through
    groups = [_Group(f"Environment {guards[0].key}: protection and safety", guards, True)] if guards else []
    general = [c for c in changes if not c.study and c.kind != "environment"]
    groups += [_Group("Accounts, groups and sites", general)] if general else []
    studied = sorted((c for c in changes if c.study), key=lambda c: c.study)
    groups += [_Group(f"Study {study}", list(cs)) for study, cs in groupby(studied, key=lambda c: c.study)]
    return groups


# The rule families whose effects the comment gathers in one section (#20): what a reviewer of an access
# review's pull request, or of a lapsed training, looks for first.
_GOVERNANCE = {"reviews": "access review", "qualifications": "qualification", "access_policies": "policy"}


@dataclass(frozen=True)
class _Effect:
    topic: str  # access review | qualification | policy
    what: str  # revoked | expired | suspended | warning
    text: str
    source: str


@cache
def _families() -> dict[str, str]:
    return {code: rule.family for code, rule in all_rules().items()}


def _governance(plan: Plan) -> list[_Effect]:
    """The plan's revocations made by access reviews and lapsed qualifications, then the warnings of the
    review, qualification and policy rules: each with where it was decided."""
    out: list[_Effect] = []
    for c in plan.changes:
        if c.kind != "grant" or c.action not in REVOKE_ACTIONS:
            continue
        if c.reason.startswith(REVIEW_REASONS[0]):
            out.append(_Effect("access review", "revoked", f"{c.key}: {c.reason}", c.source))
        elif c.reason.startswith(REVIEW_REASONS[1]):
            out.append(_Effect("access review", "expired", f"{c.key}: {c.reason}", c.source))
        elif c.reason.startswith(SUSPENDED):
            out.append(_Effect("qualification", "suspended", f"{c.key}: {c.reason}", c.source))
    families = _families()
    for w in plan.warnings:
        topic = _GOVERNANCE.get(families.get(w.code, ""))
        if topic is not None:
            out.append(_Effect(topic, f"warning `{w.code}`", w.message, w.source))
    return out


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("edcconf.views", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
    )
    env.filters.update(
        md=_md, sign=lambda action: _SIGNS[action], group_by_study=_group_by_study, governance=_governance
    )
    return env


def render_markdown(plans: list[Plan], limit: int = GITHUB_COMMENT_LIMIT) -> str:
    template = _environment().get_template("plan.md.j2")
    longest = max((len(c) for p in plans for c in [p.changes, p.warnings]), default=0)
    detail = max(longest, 1)
    while True:
        text = template.render(plans=plans, detail=detail, version=__version__, truncated=detail < longest)
        if len(text) <= limit or detail == 0:
            return text
        detail = detail // 2 if detail > 1 else 0
