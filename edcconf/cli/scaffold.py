"""`init` and `schemas export`: start a configuration repository; give it the schemas its files point to."""

from __future__ import annotations

from pathlib import Path

import click

from ..scaffold import DEFAULT_ACTION, export_schemas
from ..scaffold import init as init_config
from .common import config_option, root_dir


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option(
    "--action",
    default=DEFAULT_ACTION,
    show_default=True,
    help="The GitHub Action the workflows use, pinned to a tag (owner/edcconf@tag).",
)
def init(directory: Path, action: str) -> None:
    """Start a configuration repository in DIRECTORY: environments, a group, a study, the schemas, workflows,
    a pre-commit configuration and a README; it validates and plans at once."""
    written = init_config(directory, action)
    click.echo(
        f"Initialised {directory}: {len(written)} files. Next: cd {directory} && edcconf validate && "
        "edcconf plan --env test"
    )


@click.group()
def schemas() -> None:
    """The JSON Schemas of the declaration files."""


@schemas.command("export")
@config_option
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.pass_context
def schemas_export(ctx: click.Context, config_dir: str | None, directory: Path | None) -> None:
    """Write the schemas into DIRECTORY (default: schemas/ of the configuration), where the files'
    `# yaml-language-server: $schema=../schemas/document.schema.json` lines point."""
    root = root_dir(ctx, config_dir)
    dest = directory if directory is not None else root / "schemas"
    written = export_schemas(root, dest)
    click.echo(f"Wrote {len(written)} schemas to {dest}.")


def register(group: click.Group) -> None:
    group.add_command(init)
    group.add_command(schemas)
