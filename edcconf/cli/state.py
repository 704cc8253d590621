"""`state restore`: put an environment's state back from its history, its backup or a file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..diagnostics import UserError, suggest
from ..rules import state as state_rules
from ..state import open_backend
from ..state.edit import SECTIONS, move, push, remove
from ..state.local import read_state_file
from ..workflow import environment_of
from .common import config_option, env_option, json_option, print_json, root_dir

if TYPE_CHECKING:
    from ..state import StateBackend


@click.command("restore")
@config_option
@env_option
@click.option(
    "--from",
    "from_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A state file to restore (e.g. .edcconf/state/ENV.json.backup, or a copy kept elsewhere).",
)
@click.option("--serial", type=int, default=None, help="The applied version to restore (see `edcconf history`).")
@click.option("--force", is_flag=True, help="Restore a state of another lineage (replacing this environment's).")
@json_option
@click.pass_context
def state_restore(
    ctx: click.Context,
    config_dir: str | None,
    env: str,
    from_path: Path | None,
    serial: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Restore ENV's state: a missing or damaged state file, or an earlier version. Without --from or
    --serial: the newest version under history/ (else the backup). Recorded versions are never
    overwritten: anything but the newest version put back over a missing file becomes a new version."""

    from ..state.restore import restore  # local: keeps start-up fast

    done = restore(_backend(ctx, config_dir, env), from_path, serial, force)
    record = done.record
    if as_json:
        print_json(
            {
                "format_version": 1,
                "environment": env,
                "serial": record.serial,
                "lineage": record.lineage,
                "restored_from": done.source,
                "new_version": done.new_version,
            }
        )
    elif done.new_version:
        click.echo(
            f"Restored the state of {env} from {done.source} as a new version, serial {record.serial} "
            "(every earlier version is kept)."
        )
    else:
        click.echo(f"Restored the state of {env}: {done.source}, serial {record.serial}, is in place again.")


def _backend(ctx: click.Context, config_dir: str | None, env: str) -> StateBackend:
    root = root_dir(ctx, config_dir)
    return open_backend(root, environment_of(root, env))


def _applied(ctx: click.Context, config_dir: str | None, env: str):
    return _backend(ctx, config_dir, env).read(missing_ok=True)


def addresses(effective: dict) -> list[str]:
    """Every recorded thing as `<kind>.<key>`: accounts, groups, sites, studies, roles (by version), grants."""
    return [f"{kind}.{key}" for kind, section in SECTIONS.items() for key in sorted(effective.get(section) or {})]


@click.command("list")
@config_option
@env_option
@json_option
@click.pass_context
def state_list(ctx: click.Context, config_dir: str | None, env: str, as_json: bool) -> None:
    """List what ENV's applied state records, one address per line (e.g. grant.CARDIO-01/jane.doe)."""
    record = _applied(ctx, config_dir, env)
    found = addresses(dict(record.effective))
    if as_json:
        print_json({"format_version": 1, "environment": env, "serial": record.serial, "addresses": found})
    else:
        click.echo("".join(f"{a}\n" for a in found), nl=False)


@click.command("show")
@config_option
@env_option
@click.argument("address")
@click.pass_context
def state_show(ctx: click.Context, config_dir: str | None, env: str, address: str) -> None:
    """Show one recorded thing of ENV's applied state (an address from `state list`) as JSON."""

    record = _applied(ctx, config_dir, env)
    effective = dict(record.effective)
    known = {a: None for a in addresses(effective)}
    if address not in known:
        raise UserError(
            f"{address!r} is not in the state of {env} (serial {record.serial})"
            f"{suggest(address, known)}; `edcconf state list --env {env}` lists what is",
            code=state_rules.NOT_IN_STATE.code,
        )
    kind, _, key = address.partition(".")
    section = SECTIONS[kind]
    value = effective[section][key]
    print_json({"address": address, "value": value, "source": record.sources.get(f"{kind}:{key}")})


@click.command("pull")
@config_option
@env_option
@click.pass_context
def state_pull(ctx: click.Context, config_dir: str | None, env: str) -> None:
    """Print ENV's applied state (the whole record, as stored) on standard output."""
    print_json(_applied(ctx, config_dir, env).to_json())


@click.command("rm")
@config_option
@env_option
@click.argument("addresses", nargs=-1, required=True)
@click.pass_context
def state_rm(ctx: click.Context, config_dir: str | None, env: str, addresses: tuple) -> None:
    """Forget recorded things of ENV's state (a new version; the next plan creates them again if declared)."""

    record = remove(_backend(ctx, config_dir, env), addresses)
    click.echo(f"Removed {len(set(addresses))} from the state of {env}: serial {record.serial}.")


@click.command("mv")
@config_option
@env_option
@click.argument("source")
@click.argument("target")
@click.pass_context
def state_mv(ctx: click.Context, config_dir: str | None, env: str, source: str, target: str) -> None:
    """Give a recorded grant of ENV another key (e.g. grant.S/u → grant.S/u/role), as a new version."""

    record = move(_backend(ctx, config_dir, env), source, target)
    click.echo(f"Moved {source} to {target} in the state of {env}: serial {record.serial}.")


@click.command("push")
@config_option
@env_option
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def state_push(ctx: click.Context, config_dir: str | None, env: str, path: Path) -> None:
    """Replace ENV's state with PATH (pulled with `state pull`, then edited): same lineage, not older."""

    record = push(_backend(ctx, config_dir, env), read_state_file(path))
    click.echo(f"Pushed {path} to the state of {env}: serial {record.serial}.")


def register(state_group: click.Group) -> None:
    state_group.add_command(state_rm)
    state_group.add_command(state_mv)
    state_group.add_command(state_push)
    state_group.add_command(state_restore)
    state_group.add_command(state_list)
    state_group.add_command(state_show)
    state_group.add_command(state_pull)
