"""`compliance alert` and `compliance alerts`: the SAG module's alerts (seed 004), under `compliance`.

`compliance` stays the reports command it is (`edcconf compliance --env E ...`); it becomes a group that
runs those reports when no subcommand is named, with `alert` (render and send the alerts) and `alerts`
(list the alert log) below it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date

import click

from ..diagnostics import UserError
from ..questions.compliance import compliance_reports
from ..rules import commands as commands_rules
from ..source import load_sources
from ..validate import validate
from ..workflow import environment_of, read_state
from .common import at_option, config_option, json_option, parse_at, print_json, root_dir


@click.command("alert")
@config_option
@click.option("--env", "-e", "env", required=True, help="Environment whose applied access is checked.")
@click.option("--user", "users", multiple=True, help="Only alerts about this person (repeatable).")
@click.option("--study", "studies", multiple=True, help="Only this study (repeatable).")
@click.option(
    "--expire",
    is_flag=True,
    help="Send the notices before expiry instead, and print the grants to change so that their access "
    "expires (a planned change: nothing expires here).",
)
@click.option(
    "--expire-on",
    "expire_on",
    default=None,
    metavar="YYYY-MM-DD",
    help="The expiry date the notices give (implies --expire; default: alerts.expiration_notice_days ahead, 14).",
)
@click.option(
    "--qualifications",
    is_flag=True,
    help="Send the reminders before a qualification a role requires expires (its notify_days) instead, to "
    "the person and the study's PI (docs/qualifications.md).",
)
@click.option("--dry-run", is_flag=True, help="Render and show the alerts; send, write and log nothing.")
@at_option
@json_option
@click.pass_context
def alert(
    ctx: click.Context,
    config_dir: str | None,
    env: str,
    users: tuple,
    studies: tuple,
    expire: bool,
    expire_on: str | None,
    qualifications: bool,
    dry_run: bool,
    at: str | None,
    as_json: bool,
) -> None:
    """Alert each person whose applied rights exceed their group's ceiling, and their study's User Rights
    holders; reminders wait for the interval. By SMTP when configured, else as .eml files; always logged."""
    from ..alerts import compose, deliver  # local: loads jinja2
    from ..alerts.templates import load_templates  # local: loads jinja2
    from ..mail import smtp_settings  # local: keeps start-up fast
    from ..views.alerts import alert_run_json, render_alert_run  # local: keeps start-up fast

    root = root_dir(ctx, config_dir)
    as_of = parse_at(at)
    until = _date(expire_on, "--expire-on") if expire_on else None
    validated = validate(load_sources(root))  # ceilings below what is applied are the point, as in compliance
    if validated.model is None:
        raise UserError("the configuration cannot be read", validated.diagnostics.errors)
    model = validated.model
    applied = read_state(root, env)
    templates = load_templates(root)
    pairs = [
        p
        for p in compliance_reports(model, applied, as_of)["reports"]["pairs_non_expired"]
        if (not users or p["user"] in users) and (not studies or p["study"] in studies)
    ]
    settings = model.environments[env].alerts
    configured = settings.get("smtp")
    smtp = smtp_settings(configured if isinstance(configured, Mapping) else None)
    if qualifications:
        from ..alerts.qualifications import compose_qualifications  # local: loads jinja2

        run = compose_qualifications(root, model, applied, templates, as_of, settings)
    else:
        run = compose(root, model, applied, pairs, templates, as_of, settings, expire or until is not None, until)
    entries = deliver(root, run, smtp, dry_run)
    doc = alert_run_json(run, entries, "smtp" if smtp else "file", dry_run)
    print_json(doc) if as_json else click.echo(render_alert_run(doc), nl=False)
    if any(e.get("error") for e in entries):
        raise click.exceptions.Exit(1)


@click.command("alerts")
@config_option
@click.option("--env", "-e", "env", required=True, help="Environment whose alert log to list.")
@click.option("--user", "users", multiple=True, help="Only alerts about or to this person (repeatable).")
@click.option("--study", "studies", multiple=True, help="Only this study (repeatable).")
@json_option
@click.pass_context
def alerts(ctx: click.Context, config_dir: str | None, env: str, users: tuple, studies: tuple, as_json: bool) -> None:
    """List the alert log: every compliance alert sent or written, newest last."""
    from ..alerts.log import read_log  # local: loads jinja2
    from ..views.alerts import render_alert_log  # local: keeps start-up fast

    root = root_dir(ctx, config_dir)
    environment_of(root, env)  # an unknown environment is an error with a suggestion, not an empty log
    entries = [
        e
        for e in read_log(root, env)
        if (not users or e.get("to") in users or set(e.get("about") or ()) & set(users))
        and (not studies or e.get("study") in studies)
    ]
    if as_json:
        print_json({"format_version": 1, "environment": env, "alerts": entries})
    else:
        click.echo(render_alert_log(env, entries), nl=False)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option} {text!r} is not a date; write YYYY-MM-DD", code=commands_rules.USAGE.code) from None


def with_subcommands(command: click.Command, *subcommands: click.Command) -> click.Group:
    """command as a group: run as before when no subcommand is named, else the subcommand. Its options
    stay as they are, except that a required one is checked only when the command itself runs (click
    would otherwise ask for `compliance --env` before `compliance alert --env`)."""
    params, required = [], []
    for param in command.params:
        param = copy.copy(param)
        if getattr(param, "required", False):
            param.required = False
            required.append(param)
        params.append(param)

    def callback(**kwargs):
        ctx = click.get_current_context()
        if ctx.invoked_subcommand is not None:
            return None
        for param in required:
            if kwargs.get(param.name) is None:
                raise click.MissingParameter(ctx=ctx, param=param)
        return command.callback(**kwargs)

    return click.Group(
        name=command.name,
        commands=list(subcommands),
        params=params,
        callback=callback,
        help=command.help,
        invoke_without_command=True,
        context_settings=command.context_settings,
    )


def register(group: click.Group) -> None:
    group.add_command(with_subcommands(group.commands["compliance"], alert, alerts))
