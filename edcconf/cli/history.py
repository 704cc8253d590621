"""`history`: the applied versions of an environment, like a publish history (001)."""

from __future__ import annotations

from collections import defaultdict

import click

from ..state import open_backend
from ..workflow import environment_of
from .common import config_option, env_option, json_option, print_json, root_dir


@click.command()
@config_option
@env_option
@click.option("--changes", is_flag=True, help="Show each change of each version, with before and after.")
@json_option
@click.pass_context
def history(ctx: click.Context, config_dir: str | None, env: str, changes: bool, as_json: bool) -> None:
    """List the applied versions of an environment: serial, when, who, commit, summary."""
    backend = open_backend(root_dir(ctx, config_dir), environment_of(root_dir(ctx, config_dir), env))
    versions = backend.history()
    by_serial: dict[int | None, list[dict]] = defaultdict(list)  # an audit entry's serial, as logged
    if changes:
        for entry in backend.read_audit():
            if entry.get("event") == "change":
                by_serial[entry.get("serial")].append(entry["change"])
    if as_json:
        print_json(
            {
                "format_version": 1,
                "environment": env,
                "versions": [
                    {**v, **({"changes": by_serial.get(v["serial"], [])} if changes else {})} for v in versions
                ],
            }
        )
        return
    if not versions:
        click.echo(f"Nothing has been applied to {env} yet.")
        return
    click.echo(f"{'serial':>6}  {'applied at':<25}  {'by':<16}  {'commit':<12}  summary")
    for v in versions:
        s = v.get("summary") or {}
        summary = f"+{s.get('add', 0)} ~{s.get('change', 0)} -{s.get('revoke', 0)}" if s else ""
        note = f"  ({v['note']})" if v.get("note") else ""
        click.echo(
            f"{v['serial']:>6}  {v.get('applied_at') or '':<25}  {v.get('actor') or '':<16}  "
            f"{(v.get('commit') or '')[:12]:<12}  {summary}{note}"
        )
        for change in by_serial.get(v["serial"], []):
            click.echo(f"          {change['action']:<10} {change['kind']:<7} {change['key']}: {change['reason']}")
            if change.get("before") is not None and change.get("after") is not None:
                for line in change.get("details") or ():
                    click.echo(f"                     {line}")


def register(group: click.Group) -> None:
    group.add_command(history)
