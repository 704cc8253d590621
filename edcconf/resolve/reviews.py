"""Access reviews in the effective state (docs/reviews.md): in a campaign's environment, a grant its PI
revoked is left out, and after the due date (`after_due: expire`) so is every grant nobody confirmed;
the plan then revokes them with the review as the reason. Grants not listed under review (added after the
campaign started) are untouched. Computed once per environment, then O(1) per grant (a dict look-up)."""

from __future__ import annotations

from datetime import date

from ..diagnostics import Diagnostic, Loc
from ..model import Model
from ..rules.reviews import EXPIRE, date_warnings, outcome

REVIEW_REASONS = ("revoked in access review ", "not confirmed in access review ")


def review_exclusions(model: Model, env: str, as_of: date) -> tuple[dict[str, tuple[str, Loc]], list[Diagnostic]]:
    """grant key -> (why the review leaves it out, where that was decided), and the date warnings."""
    out: dict[str, tuple[str, Loc]] = {}
    diags: list[Diagnostic] = []
    for campaign in sorted(model.reviews.values(), key=lambda c: c.started):  # the newer campaign's reason wins
        if campaign.environment != env or as_of < campaign.started:
            continue
        results = [outcome(review) for _, review in sorted(campaign.studies.items())]
        expire = as_of > campaign.due and campaign.after_due == EXPIRE
        for res in results:
            for key in res.confirmed:  # confirmed in a newer campaign: what an older one decided no longer holds
                out.pop(key, None)
            for key, d in res.revoked.items():
                by = d.by
                who = (
                    f"by {by.author} on {by.when.isoformat() if by.when else 'an unknown day'} (commit {by.commit[:7]})"
                    if by.commit
                    else "in an edit not committed yet"
                )
                out[key] = (f"{REVIEW_REASONS[0]}{campaign.id} {who}", d.loc)
            if expire:
                for key in res.pending:
                    out[key] = (
                        f"{REVIEW_REASONS[1]}{campaign.id} (due {campaign.due.isoformat()})",
                        res.review.loc,
                    )
        diags.extend(date_warnings(campaign, results, as_of))
    return out, diags
