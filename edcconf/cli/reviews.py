"""`review start` and `review status`: access review campaigns (docs/reviews.md); and the attestations
that `apply` records in the audit log."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ..apply import git_commit
from ..diagnostics import UserError
from ..fs import refuse_leaving_folder, write_atomically
from ..pipeline import load_desired
from ..questions.reviews import attestations, campaign_packets, last_changes, review_status
from ..rules import commands as commands_rules
from ..rules import reviews as reviews_rules
from ..state import open_backend
from ..state.locking import actor
from ..validate.build_reviews import DEFAULT_WARN_DAYS
from ..views.reviews import (
    campaign_yaml,
    packet_html,
    packet_markdown,
    status_csv,
    status_json,
    status_text,
    study_review_yaml,
)
from .common import config_option, env_option, parse_at, print_json, root_dir

REVIEWS_DIR = "reviews"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@click.group()
def review() -> None:
    """Access review campaigns: each study's PI confirms or revokes its grants (docs/reviews.md)."""


@review.command()
@config_option
@env_option
@click.option("--due", default=None, metavar="YYYY-MM-DD", help="When the reviews are due (default: in 30 days).")
@click.option("--id", "campaign_id", default=None, help="The campaign's id (default: ENV-YYYY-MM).")
@click.option(
    "--warn-days",
    type=click.IntRange(min=0),
    default=DEFAULT_WARN_DAYS,
    show_default=True,
    help="plan warns this many days before the due date.",
)
@click.option(
    "--after-due",
    type=click.Choice([reviews_rules.EXPIRE, reviews_rules.WARN]),
    default=reviews_rules.EXPIRE,
    show_default=True,
    help="After the due date: revoke unconfirmed grants (expire) or only warn.",
)
@click.pass_context
def start(
    ctx: click.Context,
    config_dir: str | None,
    env: str,
    due: str | None,
    campaign_id: str | None,
    warn_days: int,
    after_due: str,
) -> None:
    """Open a campaign over the environment's applied grants: writes reviews/ID/campaign.yaml, one review
    file per study and each study's packet (packets/STUDY.md and .html)."""
    root = root_dir(ctx, config_dir)
    today = date.today()
    due_day = parse_at(due, "--due") if due is not None else today + timedelta(days=30)
    if due_day < today:
        raise UserError(f"--due {due_day} is in the past", code=commands_rules.USAGE.code)
    cid = campaign_id or f"{env}-{today:%Y-%m}"
    if not _ID.match(cid):
        raise UserError(f"--id {cid!r}: letters, digits, '.', '_' and '-' only", code=commands_rules.USAGE.code)
    folder = Path(root) / REVIEWS_DIR / cid
    if folder.exists() or folder.is_symlink():
        raise UserError(
            f"access review campaign {cid} exists already ({REVIEWS_DIR}/{cid}); choose another --id",
            code=reviews_rules.REVIEW_CAMPAIGN_EXISTS.code,
        )
    desired = load_desired(root, today, [env], keep_states=False)
    model = desired.model
    if any(c.id == cid for c in model.reviews.values()):
        raise UserError(
            f"access review campaign {cid} is declared already", code=reviews_rules.REVIEW_CAMPAIGN_EXISTS.code
        )
    backend = open_backend(root, model.environments[env])
    record = backend.read()
    if not record.exists:
        raise UserError(
            f"nothing has been applied to {env} yet: a campaign reviews the access that is applied; apply "
            "first, then start the review",
            code=reviews_rules.REVIEW_NOTHING_APPLIED.code,
        )
    packets = campaign_packets(
        model, record.effective, record.serial, last_changes(backend.read_audit("change")), cid, env, today, due_day
    )
    refuse_leaving_folder(root, folder.parent, "write the access review")
    (folder / "packets").mkdir(parents=True)
    rel = f"{REVIEWS_DIR}/{cid}"
    fields: dict[str, Any] = {
        "id": cid,
        "environment": env,
        "started": today.isoformat(),
        "due": due_day.isoformat(),
        "warn_days": warn_days,
        "after_due": after_due,
        "state_serial": record.serial,
    }
    for p in packets:
        review_file, packet = f"{rel}/{p.study}.yaml", f"{rel}/packets/{p.study}"
        write_atomically(folder / f"{p.study}.yaml", study_review_yaml(p, packet + ".md").encode())
        write_atomically(folder / "packets" / f"{p.study}.md", packet_markdown(p, review_file).encode())
        write_atomically(folder / "packets" / f"{p.study}.html", packet_html(p, review_file).encode())
    write_atomically(folder / "campaign.yaml", campaign_yaml(fields).encode())  # last: the campaign exists
    grants = sum(len(p.rows) for p in packets)
    click.echo(
        f"Started access review {cid} of {env} (applied state serial {record.serial}): {grants} grants in "
        f"{len(packets)} studies, due {due_day}. Wrote {rel}/: campaign.yaml, one review file and packet per "
        "study. Each PI confirms or revokes in a pull request (docs/reviews.md)."
    )


@review.command()
@config_option
@click.option("--campaign", default=None, help="Only this campaign.")
@click.option("--env", "-e", "env", default=None, help="Only the campaigns of this environment.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--at", "at", default=None, metavar="YYYY-MM-DD", help="Judge due and overdue as of this date.")
@click.pass_context
def status(
    ctx: click.Context, config_dir: str | None, campaign: str | None, env: str | None, fmt: str, at: str | None
) -> None:
    """Progress of access reviews per campaign, study and PI: reviewed, revoked, pending, overdue."""
    root = root_dir(ctx, config_dir)
    as_of = parse_at(at)
    model = load_desired(root, as_of, [env] if env else None, keep_states=False).model
    if campaign is not None and campaign not in model.reviews:
        raise UserError(
            f"no access review campaign {campaign!r} (declared: {', '.join(sorted(model.reviews)) or 'none'})",
            code=reviews_rules.REVIEW_UNKNOWN_CAMPAIGN.code,
        )
    rows = review_status(model, as_of, campaign, env)
    if fmt == "json":
        print_json(status_json(rows, as_of.isoformat()))
    elif fmt == "csv":
        click.echo(status_csv(rows), nl=False)
    else:
        click.echo(status_text(rows, as_of.isoformat()), nl=False)


def record_attestations(root: Path, planned) -> int:
    """apply: the committed review decisions of the environment not yet in its audit log, one entry each
    (event `attestation`). Returns how many were recorded."""
    desired = getattr(planned, "desired", None)
    if desired is None or not desired.model.reviews:
        return 0
    env = planned.plan.environment
    entries = attestations(desired.model.reviews.values(), env)
    if not entries:
        return 0
    backend = planned.backend
    known = {e.get("attestation_id") for e in backend.read_audit("attestation")}  # not the whole log
    base = {
        "actor": actor(),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": env,
        "commit": git_commit(root),
    }
    new = [{**base, **e} for e in entries if e["attestation_id"] not in known]
    if new:
        backend.append_audit(new)
    return len(new)


def register(group: click.Group) -> None:
    group.add_command(review)
