"""The core commands: validate, plan, apply (show and force-unlock: cli/applied.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

import click

from ..apply import ApplyInterrupted, failed_text
from ..assignment import validate_ceilings, validate_qualifications
from ..diagnostics import Diagnostics, UserError
from ..fs import refuse_leaving_output
from ..pipeline import load_desired
from ..plan.model import PlanForReview
from ..plan.saved import save_plan
from ..plan.select import Selection, narrow
from ..rules import commands as commands_rules
from ..rules import plan as plan_rules
from ..saved_apply import planned_from_file
from ..views.plan_text import plan_chunks
from ..workflow import (
    apply_planned,
    notifications_early,
    plan_for_review,
    plan_now,
    plan_under_lock,
    read_state,
    refuse_protected_as_applied,
)
from .common import (
    allow_unread_option,
    at_option,
    config_option,
    emit_diagnostics,
    json_option,
    parallelism_option,
    parse_at,
    parse_duration,
    print_json,
    root_dir,
    selection_options,
    styler,
)
from .reviews import record_attestations


def _echo_plan(plan, ctx: click.Context) -> None:
    _echo_chunks(plan_chunks(plan, styler(ctx)))


def _echo_chunks(chunks) -> None:
    for chunk in chunks:
        click.echo(chunk, nl=False)


@click.command()
@config_option
@json_option
@at_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    help="github: workflow annotations (::error file=…,line=…::).",
)
@click.pass_context
def validate(ctx: click.Context, config_dir: str | None, as_json: bool, at: str | None, fmt: str) -> None:
    """Check the configuration: syntax, schema, references and every rule, for every environment."""

    as_json = as_json or fmt == "json"
    root = root_dir(ctx, config_dir)
    try:
        desired = load_desired(root, parse_at(at), keep_states=False)
        # grants above a ceiling: refused if added or changed, kept if applied unchanged (each env's state)
        diags = Diagnostics(
            list(desired.diagnostics) + validate_ceilings(root, desired) + validate_qualifications(root, desired)
        )
        if diags.has_errors:
            raise UserError("the configuration breaks a rule", diags.errors + diags.warnings)
    except UserError as exc:
        if fmt == "github" and exc.diagnostics:
            emit_diagnostics(exc.diagnostics, False, "github")
            raise click.exceptions.Exit(1) from None
        raise
    from ..alerts.templates import check_templates  # local: loads jinja2

    template_problems = check_templates(desired.model.root)
    if template_problems:  # the alert templates of templates/alerts/ (004): placeholders, syntax, sandbox
        diags = Diagnostics(list(diags) + template_problems)
        if fmt == "github":
            emit_diagnostics(diags, False, "github")
            raise click.exceptions.Exit(1)
        raise UserError("the alert templates have errors", list(diags))
    emit_diagnostics(diags, as_json, fmt)
    if not as_json:
        m = desired.model
        grants = sum(len(s.access) for s in m.studies.values())
        click.echo(
            f"Configuration is valid: {len(m.environments)} environments, {len(m.studies)} studies, "
            f"{len(m.sites)} sites, {len(m.groups)} groups, {len(m.people)} people, {grants} grants."
        )


@click.command()
@config_option
@click.option(
    "--env",
    "-e",
    "envs",
    multiple=True,
    required=True,
    help="Environment, e.g. test. Repeat it with --format markdown or html for one review over several.",
)
@json_option
@at_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "html"]),
    default="text",
    help="markdown: a pull-request comment (summary table, changes per study, brakes, warnings); "
    "html: one self-contained page with a before/after access matrix per study.",
)
@click.option(
    "--out",
    "-out",
    "out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Save the plan to FILE; `edcconf apply FILE` applies exactly it.",
)
@click.option(
    "--refresh/--no-refresh",
    default=True,
    help="Read live access first (providers that can read, e.g. redcap) and plan to undo changes made by hand.",
)
@allow_unread_option
@selection_options
@parallelism_option
@click.pass_context
def plan(
    ctx: click.Context,
    config_dir: str | None,
    envs: tuple[str, ...],
    as_json: bool,
    at: str | None,
    fmt: str,
    out: str | None,
    refresh: bool,
    allow_unread: bool,
    studies: tuple[str, ...],
    targets: tuple[str, ...],
) -> None:
    """Show what apply would change. Exit 0: no changes, 2: changes, 1: error (a study whose live access
    the refresh could not read is one, unless --allow-unread). --study/--target: a partial plan, only
    those changes and what they need (saved with --out, it is applied only as that part)."""
    root = root_dir(ctx, config_dir)
    as_json = as_json or fmt == "json"
    if out:
        refuse_leaving_output(root, Path(out), "write a saved plan")  # `--out build/p.plan`, build/ a link out
    if len(envs) > 1 and (fmt not in ("markdown", "html") or out):
        raise UserError(
            "several --env need --format markdown or html (and no --out): a plan, its JSON and a saved "
            "plan are for one environment",
            code=commands_rules.USAGE.code,
        )
    selection = Selection(studies, targets)
    planned_all: list[PlanForReview]
    if selection:  # the plan made now (not the memo's: narrowing needs the applied state), then narrowed
        planned_all = [
            narrow(plan_now(root, env, parse_at(at), refresh, allow_unread=allow_unread), selection) for env in envs
        ]
    else:
        planned_all = [
            plan_for_review(root, env, parse_at(at), refresh, need_sources=bool(out), allow_unread=allow_unread)
            for env in envs
        ]
    if fmt == "markdown":
        from ..views.markdown import render_markdown  # jinja2 is imported only for this

        click.echo(render_markdown([p.plan for p in planned_all]), nl=False)
    elif fmt == "html":
        from ..views.plan_html import applied_for, render_plan_html  # local: loads jinja2

        _echo_chunks(
            render_plan_html([p.plan for p in planned_all], [applied_for(p, root, read_state) for p in planned_all])
        )
    elif as_json:
        print_json(planned_all[0].plan.to_json())
    else:
        _echo_plan(planned_all[0].plan, ctx)
    if out:
        planned = planned_all[0]
        saved = save_plan(
            Path(out),
            planned.plan,
            planned.config_digest,
            planned.systems,
            planned.sources,
            refresh=refresh,
            allow_unread=allow_unread,
        )
        if fmt == "text" and not as_json:
            click.echo(
                f"Saved this {'partial ' if planned.plan.partial else ''}plan to {out} (digest "
                f"{saved.digest[:12]}). To apply exactly it: edcconf apply {out}"
            )
    _warn_partial(p.plan for p in planned_all)
    raise click.exceptions.Exit(0 if all(p.plan.empty for p in planned_all) else 2)


@click.command()
@config_option
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False))
@click.option("--env", "-e", "env", default=None, help="Environment to plan and apply (without a saved plan).")
@click.option("--at", "at", default=None, hidden=True)  # refused: apply always happens as of today
@click.option(
    "--allow-other-date",
    is_flag=True,
    help="Apply a saved plan made as of another date than today (plan --at); unprotected environments only.",
)
@click.option("--yes", "-y", is_flag=True, help="Apply without asking (for CI).")
@click.option("--reason", default=None, help="Why this apply happens; kept in the audit log.")
@click.option("--lock-timeout", default="0s", metavar="DURATION", help="Wait this long for the state lock (e.g. 30s).")
@click.option("--allow-mass-revocation", is_flag=True, help="Apply a plan that its brakes marked as mass revocation.")
@allow_unread_option
@parallelism_option
@json_option
@selection_options
@click.pass_context
def apply(
    ctx: click.Context,
    config_dir: str | None,
    plan_file: str | None,
    env: str | None,
    at: str | None,
    allow_other_date: bool,
    yes: bool,
    reason: str | None,
    lock_timeout: str,
    allow_mass_revocation: bool,
    allow_unread: bool,
    as_json: bool,
    studies: tuple[str, ...],
    targets: tuple[str, ...],
) -> None:
    """Apply a saved plan (PLAN_FILE), or plan and apply --env ENV after confirmation, always as of today.
    With --env the state lock is taken first (--lock-timeout: waiting for it), the plan is made from the
    state read under it, and the lock is held through the confirmation and the apply. --study/--target
    (with --env): apply only those changes and what they need; a saved plan keeps its own selection."""
    root = root_dir(ctx, config_dir)
    if at is not None:
        raise UserError(
            "apply has no --at: access changes when it is applied, so apply always judges expiry as "
            "of today. Use plan --at to see what another date would change",
            code=commands_rules.USAGE.code,
        )
    if plan_file and env:
        raise UserError(
            "give either a saved plan file or --env, not both (a saved plan knows its environment)",
            code=commands_rules.USAGE.code,
        )
    if not (plan_file or env):
        raise UserError("apply needs a saved plan file or --env ENV", code=commands_rules.USAGE.code)
    if env and allow_other_date:
        raise UserError(
            "--allow-other-date is for a saved plan made with plan --at; apply --env plans as of today",
            code=commands_rules.USAGE.code,
        )
    selection = Selection(studies, targets)
    if plan_file and selection:
        raise UserError(
            f"a saved plan's selection cannot be changed: {plan_file} is applied exactly as it was "
            f"planned and reviewed, so {selection.describe()} is refused. Plan that selection and have "
            "it reviewed (edcconf plan --env ENV --study S --out FILE)",
            code=commands_rules.USAGE.code,
        )
    with ExitStack() as lock:
        if plan_file:
            planned = planned_from_file(root, Path(plan_file), allow_other_date=allow_other_date)
            yes = True  # the plan was reviewed when it was saved; applying the file is the confirmation
        else:
            assert env is not None  # checked above: a plan file or --env
            planned = plan_under_lock(lock, root, env, date.today(), parse_duration(lock_timeout), allow_unread)
            if selection:
                planned = narrow(planned, selection)
            refuse_protected_as_applied(planned)
        _apply(ctx, root, planned, bool(plan_file), yes, reason, lock_timeout, allow_mass_revocation, as_json)


def _apply(
    ctx: click.Context,
    root: Path,
    planned,
    from_file: bool,
    yes: bool,
    reason: str | None,
    lock_timeout: str,
    allow_mass_revocation: bool,
    as_json: bool,
) -> None:
    """The rest of apply, with the lock held when the plan was made under it (not from_file)."""
    env = planned.plan.environment
    # asked for no confirmation: the notifications are rendered by a child from now on (workflow); it is
    # stopped if the apply does not happen (an empty plan starts none)
    ahead = notifications_early(root, planned, reason) if yes and not from_file else None
    with _stopped_on_error(ahead):
        if not as_json:
            _echo_plan(planned.plan, ctx)
        _warn_partial([planned.plan])
        if planned.plan.empty:
            record_attestations(root, planned)  # access reviews (#20): decisions are recorded even with no change
            if as_json:
                print_json({"format_version": 1, "environment": env, "applied": 0, "serial": planned.previous.serial})
            return
        if not yes:
            if not sys.stdin.isatty():
                raise UserError(
                    "apply needs confirmation and there is no terminal to ask on; review the plan and "
                    "pass --yes (as CI does)",
                    code=plan_rules.CONFIRMATION_REQUIRED.code,
                )
            if not click.confirm(f"Apply these changes to {env}?", default=False):
                raise UserError("apply cancelled; nothing was changed", code=plan_rules.CANCELLED.code)
        try:
            result = apply_planned(
                root, planned, parse_duration(lock_timeout), reason, allow_mass_revocation, not from_file, ahead
            )
        except ApplyInterrupted as stopped:
            click.echo(failed_text(stopped.result, len(planned.plan.changes)), err=True)
            raise
    _report_applied(root, planned, result, as_json)


@contextmanager
def _stopped_on_error(ahead) -> Iterator[None]:
    try:
        yield
    except BaseException:
        if ahead is not None:
            ahead.cancel()
        raise


def _report_applied(root: Path, planned, result, as_json: bool) -> None:
    env = planned.plan.environment
    record_attestations(root, planned)
    if as_json:
        print_json(
            {
                "format_version": 1,
                "environment": env,
                "applied": len(result.applied),
                "serial": result.record.serial,
                "lineage": result.record.lineage,
                "failed": result.failed.message if result.failed else None,
                "written": list(result.written),
                **({"partial": planned.plan.partial.to_json()} if planned.plan.partial else {}),
            }
        )
    else:
        for path in result.written:
            click.echo(f"wrote {path}")
    for notice in result.notices:
        click.echo(f"warning: {notice}", err=True)
    if result.failed is not None:
        raise UserError(failed_text(result, len(planned.plan.changes)), code=plan_rules.APPLY_FAILED.code)
    if not as_json:
        partial = planned.plan.partial
        click.echo(
            f"Apply complete: {len(result.applied)} changes applied to {env}; state serial "
            f"{result.record.serial}."
            + (
                f" Partial apply ({partial.selection.describe()}): {partial.left_out} "
                f"other changes are still pending (edcconf plan --env {env})."
                if partial
                else ""
            )
        )


def _warn_partial(plans) -> None:
    """A partial plan says so on standard error too, whatever the format of standard output."""
    for plan in plans:
        if plan.partial is not None:
            click.echo(f"warning: {plan.environment}: {plan.partial.banner(plan.environment)}", err=True)


def register(group: click.Group) -> None:
    for command in (validate, plan, apply):
        group.add_command(command)
