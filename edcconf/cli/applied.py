"""`show` (an environment's applied state, or a saved plan) and `force-unlock` (a stale state lock)."""

from __future__ import annotations

from pathlib import Path

import click

from ..diagnostics import UserError
from ..plan.saved import load_plan
from ..rules import commands as commands_rules
from ..rules import state as state_rules
from ..state import open_backend
from ..views.show import render_state, state_json
from ..workflow import environment_of, read_state
from .common import config_option, json_option, print_json, root_dir
from .core import _echo_chunks, _echo_plan


@click.command()
@config_option
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False))
@click.option("--env", "-e", "env", default=None, help="Environment whose applied state to show.")
@click.option("--serial", type=int, default=None, help="Show an earlier applied version (see `edcconf history`).")
@json_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default="text",
    help="html: a saved plan as the page `plan --format html` renders.",
)
@click.pass_context
def show(
    ctx: click.Context,
    config_dir: str | None,
    plan_file: str | None,
    env: str | None,
    serial: int | None,
    as_json: bool,
    fmt: str,
) -> None:
    """Show the applied state of an environment as tables per study, or a saved plan (PLAN_FILE)."""
    as_json = as_json or fmt == "json"
    if fmt == "html" and not plan_file:
        raise UserError("show --format html is for a saved plan (PLAN_FILE)", code=commands_rules.USAGE.code)
    if plan_file:
        saved = load_plan(Path(plan_file))
        if fmt == "html":
            from ..views.plan_html import render_plan_html  # local: loads jinja2

            _echo_chunks(
                render_plan_html(
                    [saved.plan],
                    title_note=f"Saved plan {plan_file} (digest "
                    f"{saved.digest[:12]}), made {saved.created_at} by edcconf "
                    f"{saved.edcconf_version}.",
                )
            )
        elif as_json:
            print_json(
                {
                    **saved.plan.to_json(),
                    "config_digest": saved.config_digest,
                    "digest": saved.digest,
                    "edcconf_version": saved.edcconf_version,
                    "created_at": saved.created_at,
                }
            )
        else:
            click.echo(
                f"Saved plan {plan_file} (digest {saved.digest[:12]}), made {saved.created_at} by edcconf "
                f"{saved.edcconf_version}."
            )
            _echo_plan(saved.plan, ctx)
        return
    if not env:
        raise UserError("show needs --env ENV or a saved plan file", code=commands_rules.USAGE.code)
    if serial is not None:
        root = root_dir(ctx, config_dir)
        record = open_backend(root, environment_of(root, env)).version(serial)
    else:
        record = read_state(root_dir(ctx, config_dir), env)
    if as_json:
        print_json(state_json(record))
    else:
        click.echo(render_state(record), nl=False)


@click.command("force-unlock")
@config_option
@click.argument("env")
@click.argument("lock_id")
@click.pass_context
def force_unlock(ctx: click.Context, config_dir: str | None, env: str, lock_id: str) -> None:
    """Release a stale state lock, named by the id that the lock error printed."""

    root = root_dir(ctx, config_dir)
    backend = open_backend(root, environment_of(root, env))
    holder = backend.force_unlock(lock_id)
    if not holder:
        raise UserError(f"no lock {lock_id} is held on {env}", code=state_rules.NO_LOCK.code)
    click.echo(f"Released lock {lock_id} on {env}.")
    if holder.running_here():
        click.echo(
            f"Its holder (pid {holder.pid}, {holder.operation} by {holder.who}) is still running; its next "
            f"write to the state, audit log or journal of {env} will fail (lock-lost)."
        )


def register(group: click.Group) -> None:
    for command in (show, force_unlock):
        group.add_command(command)
