"""import, export and state import: the systems' own files in and out of the configuration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from ..diagnostics import Diagnostics, UserError
from ..fs import refuse_leaving_output
from ..pipeline import load_desired
from ..resolve.effective import withdrawn_grants
from .common import (
    at_option,
    config_option,
    emit_diagnostics,
    env_option,
    json_option,
    parallelism_option,
    parse_at,
    print_json,
    root_dir,
)

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _report(result, written, as_json: bool, dry_run: bool) -> None:
    warnings = Diagnostics([d for d in result.diagnostics if d.severity == "warning"])
    if as_json:
        print_json(
            {
                "format_version": 1,
                "source": result.source,
                "dry_run": dry_run,
                "written": [{"path": e.path, "action": e.action, "what": e.what} for e in written],
                "declared": {"groups": result.groups, "members": result.members, "grants": result.grants},
                "errors": [],
                "warnings": [w.to_json() for w in warnings],
            }
        )
        return
    emit_diagnostics(warnings, False, "text")
    if result.empty:
        click.echo(f"Nothing to import from {result.source}: everything in it is already declared.")
        return
    verb = "Would write" if dry_run else "Wrote"
    for edit in written:
        click.echo(f"{verb} {edit.path} ({edit.action}): {edit.what}")
    if dry_run:
        for line in result.summary():
            click.echo(f"Would declare {line}")


def _run(ctx, config_dir, importer, as_json: bool, dry_run: bool) -> None:
    from ..imports import write_import  # local: keeps start-up fast

    root = root_dir(ctx, config_dir)
    result = importer(root)
    _report(result, write_import(root, result, dry_run), as_json, dry_run)


@click.group("import")
def import_group() -> None:
    """Turn the systems' own files into declarations (nothing is written when a file has an error)."""


def _common(fn):
    fn = click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")(fn)
    fn = json_option(fn)
    return config_option(fn)


def _group_import(kind: str, what: str) -> None:
    """`import sag`: the module's two files. `import acg`: REDCap's two files, and optionally the user export
    for the e-mails and names an ACG assignment file does not carry."""

    def command(
        ctx, config_dir, definitions: Path, assignments: Path, as_json: bool, dry_run: bool, users: Path | None = None
    ) -> None:
        from ..imports import import_groups  # local: keeps start-up fast

        _run(ctx, config_dir, lambda root: import_groups(root, kind, definitions, assignments, users), as_json, dry_run)

    if kind == "acg":
        command = click.option(
            "--users",
            type=_FILE,
            default=None,
            metavar="USERS.csv",
            help="REDCap's user export (User Rights, or the API's content=user as CSV): the "
            "e-mail and name of each person it lists; without it, people new to the "
            "configuration are declared without an e-mail.",
        )(command)
    decorators: tuple[Callable[[Callable[..., None]], Callable[..., None]], ...] = (
        click.pass_context,
        click.argument("assignments", type=_FILE),
        click.argument("definitions", type=_FILE),
        _common,
    )
    for decorate in decorators:  # innermost first, as decorators apply
        command = decorate(command)
    import_group.command(kind, help=f"{what}: DEFINITIONS.csv and user ASSIGNMENTS.csv → groups and members.")(command)


_group_import("sag", "REDCap Security Access Groups")
_group_import("acg", "REDCap Access Control Groups")


@import_group.command("vault")
@_common
@click.argument("files", type=_FILE, nargs=-1, required=True)
@click.option("--study", required=True, help="The Vault study the file belongs to.")
@click.option("--group", default=None, help="The group people not declared yet join.")
@click.pass_context
def import_vault(
    ctx, config_dir, files: tuple[Path, ...], study: str, group: str | None, as_json: bool, dry_run: bool
) -> None:
    """Veeva Vault study users (003) → people and access entries of STUDY. FILES: the study's user file
    (Vault's import or export shape), or all the parts of one split above 1,000 users."""
    from ..imports.vault import import_vault as vault_import  # local: keeps start-up fast

    _run(ctx, config_dir, lambda root: vault_import(root, files, study, group), as_json, dry_run)


_SITE_COUNTRY = click.option(
    "--site-country",
    default=None,
    metavar="CC",
    help="Country (ISO code) of sites declared for data access groups no site names yet.",
)


@import_group.command("redcap")
@_common
@env_option
@click.option(
    "--study",
    "studies",
    multiple=True,
    help="A REDCap study whose project is read through the API (repeat it; none: every REDCap study of ENV).",
)
@click.option("--group", default=None, help="The group people not declared yet join.")
@_SITE_COUNTRY
@parallelism_option
@click.pass_context
def import_redcap(
    ctx,
    config_dir,
    env: str,
    studies: tuple[str, ...],
    group: str | None,
    site_country: str | None,
    as_json: bool,
    dry_run: bool,
) -> None:
    """REDCap projects read live → roles (REDCap user roles kept as roles), sites (data access groups),
    people and access entries that reproduce every user's rights exactly."""
    from ..imports.redcap import import_redcap as redcap_import  # local: keeps start-up fast

    _run(ctx, config_dir, lambda root: redcap_import(root, env, list(studies), group, site_country), as_json, dry_run)


@import_group.command("redcap-users")
@_common
@env_option
@click.argument("files", nargs=-1, required=True, type=_FILE)
@click.option("--study", required=True, help="The REDCap study the files were exported from.")
@click.option("--group", default=None, help="The group people not declared yet join.")
@click.option(
    "--redcap-version", default=None, help="The REDCap version that wrote the files (default: from the codes)."
)
@_SITE_COUNTRY
@click.pass_context
def import_redcap_users(
    ctx,
    config_dir,
    env: str,
    files: tuple[Path, ...],
    study: str,
    group: str | None,
    redcap_version: str | None,
    site_country: str | None,
    as_json: bool,
    dry_run: bool,
) -> None:
    """REDCap's own exports, USERS.csv [ROLES.csv ROLE-ASSIGNMENTS.csv DAG-ASSIGNMENTS.csv] → the same
    declarations as `import redcap`."""
    from ..imports.redcap import import_redcap_files  # local: keeps start-up fast

    parts = _redcap_files(files)
    _run(
        ctx,
        config_dir,
        lambda root: import_redcap_files(root, env, study, *parts, group, site_country, redcap_version),
        as_json,
        dry_run,
    )


def _redcap_files(files: tuple[Path, ...]) -> tuple[Path, Path | None, Path | None, Path | None]:
    if not 1 <= len(files) <= 4:
        raise UserError(
            "give USERS.csv, then optionally ROLES.csv, ROLE-ASSIGNMENTS.csv and DAG-ASSIGNMENTS.csv", code="usage"
        )
    padded: list[Path | None] = [*files, None, None, None]
    return files[0], padded[1], padded[2], padded[3]


@click.group("export")
def export_group() -> None:
    """Write the systems' own files from the declarations, resolved for one environment."""


@export_group.command("files")
@config_option
@env_option
@at_option
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def export_files(ctx, config_dir, env: str, at: str | None, out: Path) -> None:
    """SAG and ACG definitions and assignments, and per study the Vault user file, the REDCap user
    rights file or the OpenClinica list, into OUT."""
    from ..providers.files import write_all  # local: keeps start-up fast

    root = root_dir(ctx, config_dir)
    refuse_leaving_output(root, out, "write bulk files")  # `--out build/x` with build/ a link out
    desired = load_desired(root, parse_at(at), [env])
    environment = desired.model.environments[env]
    env_state = desired.resolution.environments[env]
    withdrawn = withdrawn_grants(desired.model, env_state, desired.resolution.roles)
    for path in write_all(out, env, env_state.state, environment, withdrawn):
        click.echo(f"Wrote {path}")


@click.group("state")
def state_group() -> None:
    """Work on an environment's state directly (import it from the systems' files)."""


@state_group.command("import")
@config_option
@env_option
@at_option
@json_option
@click.argument("kind", type=click.Choice(["sag", "acg", "vault", "redcap", "redcap-users"]))
@click.argument("files", nargs=-1, type=_FILE)
@click.option("--study", default=None, help="For vault, redcap and redcap-users: the study the source is of.")
@click.option("--redcap-version", default=None, help="redcap-users: the REDCap version that wrote the files.")
@click.pass_context
def state_import(
    ctx,
    config_dir,
    env: str,
    at: str | None,
    as_json: bool,
    kind: str,
    files: tuple[Path, ...],
    study: str | None,
    redcap_version: str | None,
) -> None:
    """Record as ENV's state what the files say is live (then `plan` shows what the declarations change).
    vault: one study's file, or all its parts (vault-users-001.csv ...), with --study; the rest of the
    recorded state is kept as it is."""
    from ..imports.state import groups_state, vault_state, write_state  # local: keeps start-up fast

    root = root_dir(ctx, config_dir)
    as_of = parse_at(at)
    if kind in ("redcap", "redcap-users"):
        if not study:
            raise UserError(f"state import {kind} takes --study", code="usage")
        edit = _redcap_state_edit(root, env, as_of, kind, files, study, redcap_version)
    elif kind == "vault":
        if not study:
            raise UserError("state import vault takes the study's FILE (or all its parts) and --study", code="usage")
        edit = vault_state(root, env, as_of, files, study)
    else:
        if len(files) != 2:
            raise UserError(f"state import {kind} takes DEFINITIONS.csv and ASSIGNMENTS.csv", code="usage")
        edit = groups_state(root, env, as_of, kind, files[0], files[1])
    source = ", ".join(map(str, files)) or f"the REDCap project of {study}"
    record = write_state(root, env, edit, f"state import {kind} from {source}")
    if as_json:
        print_json({"format_version": 1, "environment": env, "serial": record.serial, "lineage": record.lineage})
    else:
        click.echo(f"Recorded {source} as the state of {env} (serial {record.serial}).")


def _redcap_state_edit(
    root: Path, env: str, as_of, kind: str, files: tuple[Path, ...], study: str, version: str | None
):
    from ..imports import refuse_errors  # local: keeps start-up fast
    from ..imports.redcap import live_snapshot  # local: keeps start-up fast
    from ..imports.redcap_snapshot import from_files  # local: keeps start-up fast
    from ..imports.redcap_state import redcap_state  # local: keeps start-up fast

    if kind == "redcap":
        if files:
            raise UserError(
                "state import redcap reads the project live; for REDCap's exports use redcap-users", code="usage"
            )
        return redcap_state(root, env, as_of, lambda model, s: live_snapshot(root, model, env, s), study)

    def read(model, s):
        snap, diags = from_files(s.id, *_redcap_files(files), version)
        refuse_errors(diags, str(files[0]))
        return snap

    return redcap_state(root, env, as_of, read, study)


def register(cli: click.Group) -> None:
    for command in (import_group, export_group, state_group):
        cli.add_command(command)
