"""The commands' work, independent of click: plan one environment, apply it, read its state."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .apply import ApplyResult, execute, git_commit
from .diagnostics import UserError
from .pipeline import Desired, load_desired
from .plan import Plan, make_plan
from .providers import providers_for
from .state import StateRecord, open_backend


@dataclass(frozen=True)
class PlannedEnvironment:
    plan: Plan
    desired: Desired
    previous: StateRecord
    backend: object


def plan_environment(root: Path, env: str, as_of: date) -> PlannedEnvironment:
    desired = load_desired(root, as_of, [env])
    backend = open_backend(root, desired.model.environments[env])
    previous = backend.read()
    env_state = desired.resolution.environments[env]
    warnings = tuple(desired.diagnostics.warnings)  # resolved for this environment only
    plan = make_plan(env_state, previous.effective, previous.sources, previous.serial, previous.lineage, warnings)
    return PlannedEnvironment(plan, desired, previous, backend)


def apply_planned(root: Path, planned: PlannedEnvironment, lock_timeout: float = 0.0,
                  reason: str | None = None) -> ApplyResult:
    """Apply a plan under the environment's lock; refuses if the state moved since it was planned."""
    env_name = planned.plan.environment
    environment = planned.desired.model.environments[env_name]
    backend = planned.backend
    with backend.lock("apply", timeout=lock_timeout):
        current = backend.read()
        if (current.serial, current.lineage) != (planned.previous.serial, planned.previous.lineage):
            raise UserError(f"the state of {env_name} changed since this plan was made (serial "
                            f"{planned.previous.serial} → {current.serial}); plan again", code="stale-plan")
        env_state = planned.desired.resolution.environments[env_name]
        systems = {s["system"] for s in {**current.effective.get("studies", {}),
                                         **env_state.state.get("studies", {})}.values()}
        providers = providers_for(root, environment, systems, current.serial + 1)
        return execute(planned.plan, current, env_state.state, env_state.sources, providers, backend,
                       git_commit(root), reason)


def read_state(root: Path, env: str) -> StateRecord:
    desired_env = _environment(root, env)
    return open_backend(root, desired_env).read()


def _environment(root: Path, env: str):
    """The environment's declaration (for its state backend) without requiring the rest to be valid."""
    from .source import load_sources
    from .validate.build import build_model
    from .validate.references import suggest

    sources = load_sources(Path(root))
    model, _ = build_model(Path(root), sources.digest, tuple(f for f in sources.files if _env_file(f)))
    if env not in model.environments:
        raise UserError(f"unknown environment {env!r}{suggest(env, model.environments)}", code="unknown-reference")
    return model.environments[env]


def _env_file(parsed) -> bool:
    from .validate.schema import validate_file
    return isinstance(parsed.data, dict) and ("environment" in parsed.data or "environments" in parsed.data) \
        and not validate_file(parsed)
