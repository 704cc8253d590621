"""Providers: the only code that talks to the EDC systems (or writes their bulk files)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ..diagnostics import UserError
from ..model import Environment
from .base import Provider, ProviderError, inside
from .csvfiles import CsvProvider


def reads_live(environment: Environment) -> bool:
    """Whether a provider of this environment reads live access (only `redcap` does)."""
    return any(t.provider == "redcap" for t in environment.targets.values())


def providers_for(root: Path, environment: Environment, systems: set[str], serial: int,
                  study_sites: Mapping[str, list[str]] | None = None) -> dict[str, Provider]:
    """One provider per EDC system in use, from the environment's targets."""
    out: dict[str, Provider] = {}
    for system in sorted(systems):
        target = environment.targets.get(system)
        if target is None:
            raise UserError(f"environment {environment.name} has no target for {system} studies; add "
                            f"targets.{system} (e.g. {{provider: csv, out: build/{environment.name}/{system}}}) "
                            f"at {environment.loc}", code="no-target")
        if target.provider == "csv":
            out[system] = CsvProvider(system, root, target.out or f"build/{environment.name}/{system}",
                                      environment.name, serial, target.vault_user_defaults, target.version)
        elif target.provider == "redcap" and system == "redcap":
            from .redcap import RedcapProvider, redcap_projects
            out[system] = RedcapProvider(target, redcap_projects(root), environment.name, study_sites or {})
        else:
            raise UserError(f"provider {target.provider!r} for {system} in {environment.name} is not available in "
                            "this version of edcconf", code="no-target")
    return out


__all__ = ["Provider", "ProviderError", "CsvProvider", "providers_for", "reads_live", "inside"]
