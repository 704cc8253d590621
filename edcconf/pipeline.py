"""load → validate → resolve, as one call for commands that need the desired state."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .diagnostics import Diagnostics, UserError, suggest
from .log import timed
from .model import Model
from .resolve import Resolution, resolve
from .source import load_sources
from .validate import validate
from .validate.schema import validate_file

log = logging.getLogger("edcconf.pipeline")


@dataclass(frozen=True)
class Desired:
    model: Model
    resolution: Resolution
    diagnostics: Diagnostics  # warnings only (errors raise)


def load_desired(
    root: Path, as_of: date, environments: Iterable[str] | None = None, keep_states: bool = True
) -> Desired:
    """The desired effective state, or UserError carrying every problem found. keep_states=False
    for callers that need only the model and the diagnostics (validate)."""
    if not Path(root).is_dir():
        raise UserError(f"configuration directory {root} does not exist", code="config-missing")

    with timed(log, "load"):
        sources = load_sources(Path(root), check=validate_file)  # the schema check runs as each file is parsed
    log.info("loaded %d files from %s (configuration digest %s)", len(sources.files), root, sources.digest[:12])
    if not sources.files and not sources.diagnostics:
        raise UserError(
            f"no declarations found under {root}: expected YAML files in environments/, studies/ "
            "and groups/ (use --config DIR)",
            code="config-missing",
        )
    with timed(log, "validate"):
        validated = validate(sources)
    del sources  # the parsed files are not needed once the model is built: free them before resolving
    return _resolved(validated, as_of, environments, keep_states)


def desired_from_sources(sources, as_of: date, environments: Iterable[str] | None = None) -> Desired:
    """validate → resolve over already loaded files (all of them, or the incremental planner's subset)."""
    return _resolved(validate(sources), as_of, environments)


def _resolved(validated, as_of: date, environments: Iterable[str] | None, keep_states: bool = True) -> Desired:
    diags = validated.diagnostics
    if validated.model is None or diags.has_errors:
        raise UserError("the configuration has errors", diags.errors + diags.warnings)
    model = validated.model
    envs = list(environments) if environments is not None else None
    for env in envs or ():
        if env not in model.environments:
            raise UserError(
                f"unknown environment {env!r}{suggest(env, model.environments)} "
                f"(declared: {', '.join(sorted(model.environments)) or 'none'})",
                code="unknown-reference",
            )
    with timed(log, "resolve"):
        resolution = resolve(model, as_of, envs, keep_states)
    log.info(
        "resolved %s as of %s: %d studies, %d people",
        ", ".join(envs) if envs else "every environment",
        as_of.isoformat(),
        len(model.studies),
        len(model.people),
    )
    diags = Diagnostics(list(diags) + list(resolution.diagnostics))
    if diags.has_errors:
        raise UserError("the configuration breaks a rule", diags.errors + diags.warnings)
    return Desired(model, resolution, diags)
