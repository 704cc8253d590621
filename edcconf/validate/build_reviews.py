"""Build the access review campaigns of the model (`review_campaign:` and `access_review:`, docs/reviews.md).

Each decision (an entry of `confirmed:` or `revoke:`) carries who wrote its line and when, from git
(source.blame): only files that hold decisions are attributed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..diagnostics import Diagnostic, error, suggest
from ..model import Attribution, ReviewCampaign, ReviewDecision, StudyReview, frozen_map
from ..rules import references as references_rules
from ..rules import reviews as reviews_rules
from ..source.blame import UNCOMMITTED, blame_files
from ..source.yamlfile import ParsedFile
from .nodes import _Node, parse_date

DEFAULT_WARN_DAYS = 14


def build_reviews(root: Path, files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, ReviewCampaign]:
    campaigns: dict[str, ReviewCampaign] = {}
    nodes: dict[str, dict[str, _Node]] = {}  # campaign -> study -> its `access_review:`
    for f in files:
        if not isinstance(f.data, dict) or "review_campaign" not in f.data:
            continue
        node = _Node.root(f).child("review_campaign")
        cid = node.get("id")
        if cid in campaigns:
            problems.append(
                error(
                    references_rules.DUPLICATE_ID.code,
                    f"review campaign {cid!r} is declared twice; first at {campaigns[cid].loc}",
                    node.loc,
                )
            )
            continue
        started, due = parse_date(node, "started", problems), parse_date(node, "due", problems)
        if started is None or due is None:
            continue
        campaigns[cid] = ReviewCampaign(
            id=cid,
            environment=node.get("environment"),
            started=started,
            due=due,
            warn_days=int(node.get("warn_days", DEFAULT_WARN_DAYS)),
            after_due=node.get("after_due", reviews_rules.EXPIRE),
            state_serial=node.get("state_serial"),
            loc=node.loc,
        )
        nodes[cid] = {}
    for f in files:
        if not isinstance(f.data, dict) or "access_review" not in f.data:
            continue
        node = _Node.root(f).child("access_review")
        cid, sid = node.get("campaign"), node.get("study")
        if cid not in campaigns:
            problems.append(
                error(
                    reviews_rules.REVIEW_UNKNOWN_CAMPAIGN.code,
                    f"the access review of {sid} names campaign {cid!r}, which no review_campaign declares"
                    f"{suggest(cid, campaigns)}",
                    node.at("campaign"),
                )
            )
            continue
        if sid in nodes[cid]:
            problems.append(
                error(
                    references_rules.DUPLICATE_ID.code,
                    f"the access review of {sid} in campaign {cid} is declared twice; first at {nodes[cid][sid].loc}",
                    node.loc,
                )
            )
            continue
        nodes[cid][sid] = node
    # who wrote each decision, for the files that hold decisions (source.blame: one `git log` for most)
    blamed = [n.file.path for by_study in nodes.values() for n in by_study.values() if _decides(n)]
    authors = blame_files(root, blamed)
    return {
        cid: replace(
            c,
            studies=frozen_map({sid: _study_review(n, authors.get(n.file.path, {})) for sid, n in nodes[cid].items()}),
        )
        for cid, c in campaigns.items()
    }


def _decides(node: _Node) -> bool:
    return bool(node.get("confirmed") or node.get("revoke"))


def _study_review(node: _Node, authors: dict[int, Attribution]) -> StudyReview:
    cid, sid = node.get("campaign"), node.get("study")
    grants = tuple(node.get("grants") or ())
    if not _decides(node):  # most files of a campaign under way: no need to index their grants
        return StudyReview(cid, sid, node.get("pi"), grants, (), node.loc)
    by_user: dict[str, list[str]] = {}
    for key in grants:
        parts = key.split("/")
        if len(parts) >= 2:
            by_user.setdefault(parts[1], []).append(key)
    decisions = []
    for field, decision in (("confirmed", reviews_rules.CONFIRMED), ("revoke", reviews_rules.REVOKE)):
        for item in node.items(field):
            entry = str(item.value)
            keys = (entry,) if entry in grants else tuple(by_user.get(entry, ()))
            by = authors.get(item.loc.line, UNCOMMITTED)
            decisions.append(ReviewDecision(entry, decision, keys, by, item.loc))
    return StudyReview(cid, sid, node.get("pi"), grants, tuple(decisions), node.loc)
