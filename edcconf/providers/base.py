"""The one small interface every provider shares; providers are the only code that talks outside."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from ..diagnostics import UserError
from ..fs import leaving_link, real, relative_name, within
from ..plan import Change
from ..rules import files as files_rules


class ProviderError(Exception):
    """A change the EDC system (or the file system) refused; the message reaches the user verbatim."""

    def __init__(self, change: Change, message: str) -> None:
        super().__init__(message)
        self.change = change
        self.message = message


class Provider(Protocol):
    """What apply asks of a provider (providers_for makes them; mypy checks each against this). Reading live
    access is not part of it: only drift reads, and only through a RedcapProvider (questions/drift.py)."""

    system: str
    batched: bool  # its changes become real in finish() (bulk files), not in apply(): journaled then

    def apply(self, change: Change) -> None:
        """Carry out one change or raise ProviderError; must be safe to repeat."""
        ...

    def finish(self, applied: list[Change], effective: Mapping[str, Any]) -> list[str]:
        """Called once after the run with the changes that succeeded and the new effective state;
        returns lines describing what was written or sent."""
        ...


def inside(root: Path, relative: str, what: str) -> Path:
    """Resolve a path from the configuration; refuse one that escapes the configuration directory, as
    written (`../x`, `/tmp/x`) or through a symbolic link on the way (`build -> /tmp`): see edcconf.fs."""

    base = real(root)
    target = real(base / relative)
    if within(base, target) and not os.path.islink(target):
        return target
    link = None
    with contextlib.suppress(ValueError):
        link = leaving_link(base, base / relative)
    if link is not None and os.path.islink(link):
        raise UserError(
            f"{what} {relative!r} leads through {relative_name(base, link)}, a symbolic link to a "
            f"place outside the configuration directory {base}; remove the link, or use a path "
            "whose every part stays inside",
            code=files_rules.UNSAFE_PATH.code,
        )
    raise UserError(
        f"{what} {relative!r} points outside the configuration directory {base}; "
        "use a path below it, such as build/test",
        code=files_rules.UNSAFE_PATH.code,
    )
