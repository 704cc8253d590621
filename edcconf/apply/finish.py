"""Providers finish an apply: each writes its bulk files (staged, see fs.StagedOutputs) from the changes that
succeeded and the new effective state.

That is here, in this process, unless speed's hook (use_beside) takes it: a first apply of a large
organisation writes thousands of files while this process journals every change, and the two need not
wait for each other (edcconf.speed.finish_beside does it in a forked child). Whatever the hook does, the
files and their manifest are the ones finish_here would stage; when it cannot, it answers None and the
files are written here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..fs import StagedOutputs
from ..plan import Change
from ..providers import Provider


class Finishing(Protocol):
    """The providers' finish under way elsewhere."""

    def take(self, staged: StagedOutputs) -> list[str] | None:
        """What finish_here returns, its files added to staged; None when it failed (finish here then)."""
        ...

    def cancel(self) -> None:
        """Stop it and leave nothing of it behind (nothing to do once taken)."""
        ...


Beside = Callable[[Mapping[str, Provider], list[Change], Mapping[str, Any]], "Finishing | None"]
_beside: Beside | None = None


def use_beside(beside: Beside | None) -> None:
    global _beside
    _beside = beside


def start(providers: Mapping[str, Provider], applied: list[Change], effective: Mapping[str, Any]) -> Finishing | None:
    """The providers' finish started elsewhere, or None (call finish_here)."""
    return _beside(providers, applied, effective) if _beside is not None else None


def finish_here(providers: Mapping[str, Provider], applied: list[Change], effective: Mapping[str, Any]) -> list[str]:
    written: list[str] = []
    for provider in providers.values():
        written.extend(provider.finish(applied, effective))
    return written
