"""Commands that read the live systems: drift."""

from __future__ import annotations

import click

from ..questions.drift import drift as drift_report
from ..questions.drift import refuse_unread
from ..state import open_backend
from ..views.drift import render_drift
from ..workflow import environment_of, read_recovered
from .common import (
    allow_unread_option,
    config_option,
    env_option,
    json_option,
    parallelism_option,
    print_json,
    root_dir,
    warn_unread,
)


@click.command()
@config_option
@env_option
@json_option
@allow_unread_option
@parallelism_option
@click.pass_context
def drift(ctx: click.Context, config_dir: str | None, env: str, as_json: bool, allow_unread: bool) -> None:
    """Compare live access (where a provider can read it) with the applied state. Exit 2 on drift, 1 when
    a study's live access could not be read (unless --allow-unread)."""

    root = root_dir(ctx, config_dir)
    environment = environment_of(root, env)
    record = read_recovered(open_backend(root, environment))
    report = drift_report(root, environment, record)
    if not allow_unread:
        refuse_unread(env, report.unread)
    warn_unread(report.unread)
    print_json(report.to_json()) if as_json else click.echo(render_drift(report), nl=False)
    raise click.exceptions.Exit(2 if report.differences else 0)


def register(cli: click.Group) -> None:
    cli.add_command(drift)
