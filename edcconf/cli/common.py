"""What every command shares: the configuration directory, output helpers, error reporting."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import click

from ..diagnostics import Diagnostics, UserError, error
from ..parallel import DEFAULT_PARALLELISM
from ..parallel import configure as set_parallelism
from ..rules import commands as commands_rules


@dataclass
class Ctx:
    config: str | None
    color: bool | None


def _no_color(ctx: click.Context, _param: click.Parameter, given: bool) -> None:
    if given and ctx.obj is not None:
        ctx.obj.color = False


def accept_no_color_everywhere(group: click.Group) -> None:
    """`--no-color` after any command too (`edcconf plan --env test --no-color`), not only before it."""
    for command in group.commands.values():
        if not any("--no-color" in p.opts for p in command.params):
            command.params.append(
                click.Option(
                    ["--no-color"],
                    is_flag=True,
                    expose_value=False,
                    callback=_no_color,
                    help="Never colour the output (so does NO_COLOR set to any value).",
                )
            )
        if isinstance(command, click.Group):
            accept_no_color_everywhere(command)


def root_dir(ctx: click.Context, local: str | None = None) -> Path:
    given = local or (ctx.obj.config if ctx.obj else None)
    return Path(given) if given else find_root(Path.cwd())


def find_root(start: Path) -> Path:
    """The configuration directory that holds `start`: the nearest folder upwards with an `environments/`
    folder (as git finds `.git`), so commands work from studies/ too. It never goes above the git
    repository `start` is in; with none found, `start` itself (and the command says it holds nothing)."""
    for folder in (start, *start.parents):
        if (folder / "environments").is_dir():
            return folder
        if (folder / ".git").exists():
            break
    return start


def config_option(fn: Callable) -> Callable:
    """`--config` on every command too, as people type it after the command name."""
    return click.option(
        "--config",
        "config_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Configuration directory (default: the nearest folder upwards with environments/).",
    )(fn)


def env_option(fn: Callable) -> Callable:
    return click.option("--env", "-e", "env", required=True, help="Environment, e.g. test or production.")(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object (stable, versioned).")(fn)


def selection_options(fn: Callable) -> Callable:
    """`--study` and `--target` of plan and apply: a partial plan (plan/select.py)."""
    fn = click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ADDRESS",
        help="Only the change of this address (as `state list` prints it, e.g. grant.CARDIO-01/jane.doe, "
        "account.li.wei; a trailing * is a prefix) and what it needs. Repeatable.",
    )(fn)
    return click.option(
        "--study",
        "studies",
        multiple=True,
        metavar="STUDY",
        help="Only this study's changes and what they need (accounts, groups, sites). Repeatable.",
    )(fn)


def allow_unread_option(fn: Callable) -> Callable:
    return click.option(
        "--allow-unread",
        "allow_unread",
        is_flag=True,
        help="Go on when a study's live access could not be read (token unset, REDCap down): "
        "warn and list it as NOT read instead of failing (exit 1).",
    )(fn)


def parallelism_option(fn: Callable) -> Callable:
    """--parallelism N: how many projects of a live system are worked on at once (edcconf.parallel)."""

    def configure(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
        set_parallelism(value)
        return value

    return click.option(
        "--parallelism",
        type=click.IntRange(1, 64),
        default=DEFAULT_PARALLELISM,
        show_default=True,
        expose_value=False,
        callback=configure,
        metavar="N",
        help="Work on up to N REDCap projects at once (1: one after another). The output, the "
        "state and the audit log are the same at any N.",
    )(fn)


def warn_unread(unread) -> None:
    """Each study whose live access was not read (--allow-unread) as a warning on stderr, so that no
    output, text or JSON, goes without it."""
    for study, why in unread:
        click.echo(f"warning: live access of {study} NOT read (--allow-unread): {why}", err=True)


def at_option(fn: Callable) -> Callable:
    return click.option(
        "--at",
        "at",
        default=None,
        metavar="YYYY-MM-DD",
        help="Plan as of this date (expiry is judged on it); default today.",
    )(fn)


def parse_at(value: str | None, option: str = "--at") -> date:
    """A date option's value (today when not given); a user error naming the option otherwise."""
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option} {value!r} is not a date; write YYYY-MM-DD", code=commands_rules.USAGE.code) from None


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")


def parse_duration(text: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise UserError(f"{text!r} is not a duration; write e.g. 30s, 2m or 500ms", code=commands_rules.USAGE.code)
    value, unit = float(m.group(1)), m.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60}[unit]


def styler(ctx: click.Context) -> Callable[..., str]:
    color = ctx.obj.color if ctx.obj else None
    if color is None:
        # no-color.org: NO_COLOR set to any non-empty value disables colour, whatever the value says
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    return (lambda text, **kw: click.style(text, **kw)) if color else (lambda text, **kw: text)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def emit_diagnostics(diags: Diagnostics, as_json: bool, fmt: str = "text") -> None:
    if as_json:
        print_json(diags.to_json())
        return
    for d in diags:
        if fmt == "github":  # workflow annotations: shown on the pull request's changed lines
            kind = "error" if d.severity == "error" else "warning"
            click.echo(
                f"::{kind} file={d.loc.file},line={d.loc.line or 1},col={d.loc.col or 1},"
                f"title={d.code}::{_gh_escape(d.message)}"
            )
        else:
            click.echo(d.format(), err=d.severity == "error")


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def emit_user_error(exc: UserError, json_output: bool) -> None:
    diags = exc.diagnostics
    if json_output:
        if not diags.errors:
            diags = Diagnostics([error(exc.code, exc.message)] + list(diags))
        print_json(diags.to_json())
        return
    for d in diags:
        click.echo(d.format(), err=True)
    count = len(diags.errors)
    suffix = f" ({count} error{'s' if count != 1 else ''})" if count else ""
    click.echo(f"edcconf: {exc.message}{suffix}", err=True)
