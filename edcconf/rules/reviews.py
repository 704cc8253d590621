"""Access review campaigns (issue #20, docs/reviews.md): a study's PI confirms or revokes each grant under
review in `reviews/<campaign>/<study>.yaml`; `plan` revokes what they revoke, warns as the due date nears,
and after it (`after_due: expire`) revokes what nobody confirmed.

Who decided comes from git (source.blame). A confirmation that is not committed is not an attestation:
it is counted as pending (fail closed) and warned about; a revocation takes access away, which is never
the unsafe direction, so it is honoured committed or not (its reason says it is not committed yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..diagnostics import Diagnostic, error, suggest, warning
from ..model import Model, ReviewCampaign, ReviewDecision, StudyReview
from .book import rule
from .references import UNKNOWN_REFERENCE

FAMILY = "reviews"
CONFIRMED, REVOKE = "confirmed", "revoke"
EXPIRE, WARN = "expire", "warn"

REVIEW_UNKNOWN_CAMPAIGN = rule(
    "review-unknown-campaign",
    family=FAMILY,
    source="edcconf",
    kind="error",
    summary="a study's access review names a campaign that no `review_campaign:` declares",
    text=(
        "A study's access review (`access_review: {campaign: ...}`) belongs to a campaign declared in "
        "`reviews/<campaign>/campaign.yaml` (`review_campaign: {id: ...}`); `edcconf review start` writes both"
    ),
    example="access review of CARDIO-01 names campaign 'production-2026-13', which is not declared; did you mean 'production-2026-12'?",
)
REVIEW_UNKNOWN_GRANT = rule(
    "review-unknown-grant",
    family=FAMILY,
    source="edcconf",
    kind="error",
    summary="`confirmed:` or `revoke:` names a person or grant that is not under review in that study",
    text=(
        "Each entry of `confirmed:` and `revoke:` is a username or a grant key listed under the study "
        "review's `grants:` (the grants as applied when the campaign started); anything else is a typo or a "
        "grant added later, which the campaign does not review"
    ),
    example="CARDIO-01's access review revokes 'tom.hartt', which is not under review (did you mean 'tom.hart'?)",
)
REVIEW_CONFLICT = rule(
    "review-conflict",
    family=FAMILY,
    source="edcconf",
    kind="error",
    summary="a grant is both confirmed and revoked in the same access review",
    text="A grant under review is either confirmed or revoked: remove it from one of the two lists",
    example="CARDIO-01/li.wei is both confirmed (line 14) and revoked (line 17) in access review production-2026-12",
)
REVIEW_UNATTRIBUTED = rule(
    "review-unattributed",
    family=FAMILY,
    source="edcconf",
    kind="warning",
    summary="a review decision is not committed to git, so nobody is on record for it",
    text=(
        "Who confirmed or revoked a grant, and when, is read from git (`git blame` of the review file). A "
        "line that is not committed has no author: a confirmation there counts as pending until it is "
        "committed; a revocation is honoured (taking access away is never the unsafe direction)"
    ),
    example="confirmed: 'dina.park' in reviews/production-2026-12/CARDIO-01.yaml is not committed: it counts as pending until it is",
)
REVIEW_NOT_PI = rule(
    "review-not-pi",
    family=FAMILY,
    source="edcconf",
    kind="warning",
    summary="a review decision was committed by someone other than the study's PI or co-PIs",
    text=(
        "Who decided is the author git records for the decision's line; when that author's e-mail is not "
        "the declared e-mail of the study's PI or of a co-PI, the decision still counts (someone may act for "
        "the PI, approved in the pull request), and the plan says so, so that the reviewer checks it"
    ),
    example="CARDIO-01's access review: confirmed 'dina.park' was committed by Bob Smith <bob.smith@hospital.example.org>, not by the PI jane.doe or a co-PI",
)
REVIEW_DUE = rule(
    "review-due",
    family=FAMILY,
    source="edcconf",
    kind="warning",
    summary="grants of a study are still unreviewed as the campaign's due date nears",
    text=(
        "Within `warn_days` of the due date, `plan` warns of each study whose PI has not yet confirmed or "
        "revoked every grant under review"
    ),
    example="CARDIO-01: 4 of 9 grants not yet reviewed in access review production-2026-12 (due 2026-12-31, in 5 days); PI jane.doe",
)
REVIEW_OVERDUE = rule(
    "review-overdue",
    family=FAMILY,
    source="edcconf",
    kind="warning",
    summary="a campaign with `after_due: warn` is past its due date with grants unreviewed",
    text="After the due date a campaign with `after_due: warn` keeps the unreviewed grants and warns on every plan",
    example="CARDIO-01: 4 of 9 grants not reviewed in access review production-2026-12, overdue since 2026-12-31; PI jane.doe",
)
REVIEW_EXPIRED = rule(
    "review-expired",
    family=FAMILY,
    source="edcconf",
    kind="warning",
    summary="unreviewed grants expire after the campaign's due date (`after_due: expire`)",
    text=(
        "After the due date a campaign with `after_due: expire` (the default) treats every grant nobody "
        "confirmed as expired: the plan revokes it with the reason `not confirmed in access review ...`. A "
        "late confirmation (committed) gives it back"
    ),
    example="CARDIO-01: 4 of 9 grants were not confirmed in access review production-2026-12 by 2026-12-31: the plan revokes them",
)


@dataclass(frozen=True)
class Outcome:
    """Where one study review stands: each grant key under review is confirmed, revoked or pending."""

    review: StudyReview
    confirmed: dict[str, ReviewDecision]  # key -> its ReviewDecision (committed confirmations only)
    revoked: dict[str, ReviewDecision]  # key -> its ReviewDecision
    pending: tuple[str, ...]


def outcome(review: StudyReview) -> Outcome:
    confirmed: dict[str, ReviewDecision] = {}
    revoked: dict[str, ReviewDecision] = {}
    for d in review.decisions:
        if d.decision == REVOKE:
            for key in d.keys:
                revoked.setdefault(key, d)
        elif d.by.committed:  # an uncommitted confirmation is no attestation (fail closed)
            for key in d.keys:
                confirmed.setdefault(key, d)
    for key in revoked:
        confirmed.pop(key, None)  # both: review-conflict (an error) stops validate before any plan
    pending = tuple(k for k in review.grants if k not in confirmed and k not in revoked)
    return Outcome(review, confirmed, revoked, pending)


def campaign_phase(campaign: ReviewCampaign, as_of: date) -> str:
    """open | due (within warn_days of the due date) | overdue (after it)."""
    if as_of > campaign.due:
        return "overdue"
    return "due" if (campaign.due - as_of).days <= campaign.warn_days else "open"


def check_reviews(model: Model) -> list[Diagnostic]:
    """What can be judged without a date: decisions naming nothing under review, conflicts, and
    decisions git has no author for."""
    out: list[Diagnostic] = []
    for campaign in model.reviews.values():
        if campaign.environment not in model.environments:
            out.append(
                error(
                    UNKNOWN_REFERENCE.code,
                    f"access review campaign {campaign.id} names environment {campaign.environment!r}, which is "
                    f"not declared{suggest(campaign.environment, model.environments)}",
                    campaign.loc,
                )
            )
        for review in campaign.studies.values():
            study = model.studies.get(review.study)
            reviewers = _reviewers(model, review.pi, study.protocol.co_pis if study and study.protocol else ())
            for key in review.grants:
                if not key.startswith(f"{review.study}/"):
                    out.append(
                        error(
                            REVIEW_UNKNOWN_GRANT.code,
                            f"{review.study}'s access review ({campaign.id}) lists {key!r} under grants:, which is "
                            f"not a grant of {review.study}: a study's review holds only its own grants",
                            review.loc,
                        )
                    )
            seen: dict[str, tuple[str, object]] = {}
            for d in review.decisions:
                if not d.keys:
                    users = sorted({k.split("/")[1] for k in review.grants if k.count("/") >= 1})
                    out.append(
                        error(
                            REVIEW_UNKNOWN_GRANT.code,
                            f"{review.study}'s access review ({campaign.id}) {'confirms' if d.decision == CONFIRMED else 'revokes'} "
                            f"{d.entry!r}, which is not under review{suggest(d.entry, users + list(review.grants))}: "
                            "name a username or a grant key listed under grants:",
                            d.loc,
                        )
                    )
                    continue
                for key in d.keys:
                    other = seen.get(key)
                    if other is not None and other[0] != d.decision:
                        out.append(
                            error(
                                REVIEW_CONFLICT.code,
                                f"{key} is both confirmed and revoked in access review {campaign.id} "
                                f"(the other at {other[1]}): keep it in one list",
                                d.loc,
                            )
                        )
                    seen.setdefault(key, (d.decision, d.loc))
                email = (d.by.email or "").casefold()
                if d.by.committed and reviewers and email not in reviewers:
                    out.append(
                        warning(
                            REVIEW_NOT_PI.code,
                            f"{review.study}'s access review ({campaign.id}): {d.decision} {d.entry!r} was committed "
                            f"by {d.by.author} <{d.by.email}>, not by the PI {review.pi} or a co-PI",
                            d.loc,
                        )
                    )
                if not d.by.committed:
                    counted = "counts as pending until it is" if d.decision == CONFIRMED else "is honoured already"
                    out.append(
                        warning(
                            REVIEW_UNATTRIBUTED.code,
                            f"{d.decision}: {d.entry!r} in {d.loc.file} is not committed (or its commit is beyond "
                            f"a shallow clone's history), so git names nobody for it: it {counted}; commit it "
                            "(the PI's pull request), and check out the whole history (fetch-depth: 0)",
                            d.loc,
                        )
                    )
    return out


def _reviewers(model: Model, pi: str | None, co_pis: tuple[str, ...]) -> set[str]:
    """The declared e-mails (folded) of the PI and co-PIs: who is expected to decide."""
    people = [model.people.get(u) for u in (pi, *co_pis) if u]
    return {p.email.casefold() for p in people if p is not None and p.email}


def date_warnings(campaign: ReviewCampaign, results: list[Outcome], as_of: date) -> list[Diagnostic]:
    """review-due / review-overdue / review-expired for the studies of one campaign with grants pending."""
    phase = campaign_phase(campaign, as_of)
    if phase == "open":
        return []
    out: list[Diagnostic] = []
    for res in results:
        if not res.pending:
            continue
        review = res.review
        n, total, pi = len(res.pending), len(review.grants), review.pi or "(no PI declared)"
        due = campaign.due.isoformat()
        if phase == "due":
            days = (campaign.due - as_of).days
            out.append(
                warning(
                    REVIEW_DUE.code,
                    f"{review.study}: {n} of {total} grants not yet reviewed in access review {campaign.id} "
                    f"(due {due}, {'today' if days == 0 else f'in {days} days'}); PI {pi}",
                    review.loc,
                )
            )
        elif campaign.after_due == WARN:
            out.append(
                warning(
                    REVIEW_OVERDUE.code,
                    f"{review.study}: {n} of {total} grants not reviewed in access review {campaign.id}, "
                    f"overdue since {due}; PI {pi}",
                    review.loc,
                )
            )
        else:
            out.append(
                warning(
                    REVIEW_EXPIRED.code,
                    f"{review.study}: {n} of {total} grants were not confirmed in access review "
                    f"{campaign.id} by {due}: the plan revokes them",
                    review.loc,
                )
            )
    return out


REVIEW_CAMPAIGN_EXISTS = rule(
    "review-campaign-exists",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`review start` never overwrites a campaign",
    text="`edcconf review start` refuses an --id whose folder under reviews/ (or declaration) exists already",
    example="access review campaign production-2026-12 exists already (reviews/production-2026-12); choose another --id",
)
REVIEW_NOTHING_APPLIED = rule(
    "review-nothing-applied",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`review start` reviews applied access: nothing has been applied to the environment yet",
    text=(
        "A campaign reviews the grants that are applied in the environment (its state), not the "
        "configuration under review: with nothing applied there is nothing to review yet"
    ),
    example="nothing has been applied to production yet: a campaign reviews the access that is applied; apply first, then start the review",
)
