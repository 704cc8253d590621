"""Shell completion of values: environments, studies, people and roles, read from the configuration the
command would use (`--config`, else the nearest folder upwards with environments/).

Click completes commands and options itself (`_EDCCONF_COMPLETE=bash_source edcconf`); this adds the
names. A completion never fails a shell: any problem reading the configuration completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import click
from click.shell_completion import CompletionItem

from ..source import load_sources
from .common import find_root

_OPTION_KINDS = {
    "env": "environment",
    "envs": "environment",
    "study": "study",
    "studies": "study",
    "user": "person",
    "users": "person",
    "people": "person",
    "role": "role",
}


def _root(ctx: click.Context) -> Path:
    given = ctx.params.get("config_dir") or ctx.find_root().params.get("config")
    return Path(given) if given else find_root(Path.cwd())


def _declared(root: Path) -> dict[str, set[str]]:
    found: dict[str, set[object]] = {"environment": set(), "study": set(), "person": set(), "role": set()}
    for parsed in load_sources(root).files:
        data = parsed.data if isinstance(parsed.data, dict) else {}
        for env in _listed(data, "environment", "environments"):
            found["environment"].add(env.get("name"))
        for study in _listed(data, "study", "studies"):
            found["study"].add(study.get("id"))
            found["role"].update((study.get("roles") or {}).keys() if isinstance(study.get("roles"), dict) else ())
            found["role"].update(g.get("role") for g in study.get("access") or () if isinstance(g, dict))
        for group in _listed(data, "group", "groups"):
            found["person"].update(m.get("username") for m in group.get("members") or () if isinstance(m, dict))
    return {kind: {n for n in names if isinstance(n, str)} for kind, names in found.items()}


def _listed(data: dict, one: str, many: str) -> Iterable[dict]:
    items = ([data[one]] if isinstance(data.get(one), dict) else []) + (
        data[many] if isinstance(data.get(many), list) else []
    )
    return [item for item in items if isinstance(item, dict)]


def completer(kind: str) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        try:
            names = _declared(_root(ctx))[kind]
        except Exception:  # noqa: BLE001 - completion must never break the user's shell
            return []
        return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]

    return complete


def attach(group: click.Group) -> None:
    """Give every option and argument that names an environment, study, person or role its completion."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            attach(command)
            continue
        for param in command.params:
            kind = _OPTION_KINDS.get(param.name or "")
            if kind is not None and param._custom_shell_complete is None:  # click keeps shell_complete= here
                param._custom_shell_complete = completer(kind)
