"""`apply --plan FILE`: a saved plan is applied only as what the configuration and state it names give."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from .diagnostics import UserError
from .plan.brakes import guards_of
from .plan.saved import SavedPlan, check_fresh, load_plan, plan_differences
from .plan.select import narrow
from .rules import plan as plan_rules
from .source import load_sources
from .state import open_backend
from .workflow import PlannedEnvironment, environment_of, plan_now, read_recovered


def planned_from_file(
    root: Path, path: Path, allow_other_date: bool = False, today: date | None = None
) -> PlannedEnvironment:
    """A saved plan, applied only as what the configuration and state it names give: checked against
    them (version, state serial and lineage, configuration digest), its as-of date checked against today,
    then planned again and compared. What is applied is the plan made again (identical to the file's)."""
    saved = load_plan(path)
    env = saved.plan.environment
    environment = environment_of(root, env)
    backend = open_backend(root, environment)
    previous = read_recovered(backend)
    digest = load_sources(Path(root)).digest
    check_fresh(saved, path, previous.serial, previous.lineage, digest)
    today = today or date.today()
    as_of = saved.plan.as_of
    protected = guards_of(environment, previous.effective).protected  # as last applied
    with_at = saved.planned_on != as_of.isoformat()  # planned with --at another day than its own
    if as_of != today:
        if allow_other_date and protected:
            raise UserError(
                f"{env} is protected: a plan as of another date than today ({as_of}, today is {today}) "
                "is never applied to it; --allow-other-date is for unprotected environments. Plan "
                f"again without --at (edcconf plan --env {env} --out FILE) and have it reviewed",
                code=plan_rules.PLAN_DATE.code,
            )
        if with_at and not allow_other_date:
            raise UserError(
                f"{path} was planned as of {as_of} (plan --at), not today ({today}): it judges expiry "
                "on another day than the one it is applied. Plan again without --at and have it "
                "reviewed"
                + (
                    ""
                    if protected
                    else f", or pass --allow-other-date to apply it to the unprotected {env} as of {as_of}"
                ),
                code=plan_rules.PLAN_DATE.code,
            )
    fresh = _narrowed(saved, plan_now(root, env, as_of, saved.refresh, allow_unread=saved.allow_unread))
    differs = plan_differences(saved.plan, fresh.plan, (saved.systems, saved.sources), (fresh.systems, fresh.sources))
    if fresh.config_digest != saved.config_digest:
        differs.insert(
            0, f"configuration digest {saved.config_digest[:12]} in the file, {fresh.config_digest[:12]} now"
        )
    if differs:
        raise UserError(
            f"{path} is not the plan that the configuration and state it names give, so nothing was "
            f"applied: {'; '.join(differs)}. A saved plan is applied only exactly as planned: plan "
            "again and have that plan reviewed",
            code=plan_rules.PLAN_MISMATCH.code,
        )
    if as_of != today and not allow_other_date:
        # planned as of its own day and applied on a later one: only if today gives this very plan
        now = _narrowed(saved, plan_now(root, env, today, saved.refresh, allow_unread=saved.allow_unread))
        differs = plan_differences(saved.plan, replace(now.plan, as_of=as_of))
        if differs:
            raise UserError(
                f"{path} was planned as of {as_of}; as of today ({today}) the configuration and state "
                f"give another plan ({'; '.join(differs)}). Plan again and have it reviewed"
                + (
                    ""
                    if protected
                    else f", or pass --allow-other-date to apply it to the unprotected {env} as of {as_of}"
                ),
                code=plan_rules.PLAN_DATE.code,
            )
    return replace(fresh, saved_digest=saved.digest)


def _narrowed(saved: SavedPlan, planned: PlannedEnvironment) -> PlannedEnvironment:
    """A saved partial plan is planned again with its own selection (plan/select.py)."""
    if saved.plan.partial is None:
        return planned

    return narrow(planned, saved.plan.partial.selection)
