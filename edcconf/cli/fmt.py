"""`fmt`: rewrite the declaration files in the canonical style (`--check` only tells, `--diff` shows)."""

from __future__ import annotations

import difflib

import click

from ..diagnostics import Diagnostics, UserError
from ..fs import real, refuse_leaving, write_atomically
from .common import config_option, root_dir


@click.command()
@config_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a file is not in the canonical style.")
@click.option("--diff", "show_diff", is_flag=True, help="Show what would change (or changed) as a unified diff.")
@click.pass_context
def fmt(ctx: click.Context, config_dir: str | None, check: bool, show_diff: bool) -> None:
    """Write every declaration file in the canonical style, keeping comments; never changes what a file means."""
    from ..source.fmt import format_config  # ruamel.yaml: loaded only by the command that needs it

    root = root_dir(ctx, config_dir)
    results, problems = format_config(root)
    if problems:
        raise UserError("fmt left files alone", Diagnostics(problems))
    changed = [r for r in results if r.changed]
    for result in changed:
        if show_diff:
            click.echo(
                "".join(
                    difflib.unified_diff(
                        result.before.splitlines(keepends=True),
                        result.after.splitlines(keepends=True),
                        f"a/{result.path}",
                        f"b/{result.path}",
                    )
                ),
                nl=False,
            )
        if check:
            click.echo(result.path)
        else:
            # the file itself, not a link to it (a link inside the configuration stays a link)
            target = real(refuse_leaving(root, root / result.path, "format a file"))
            write_atomically(target, result.after.encode("utf-8"), durable=False)
            click.echo(f"formatted {result.path}", err=True)
    if check and changed:
        raise UserError(
            f"{len(changed)} of {len(results)} files are not in the canonical style: run `edcconf fmt`",
            code="fmt-check",
        )


def register(group: click.Group) -> None:
    group.add_command(fmt)
