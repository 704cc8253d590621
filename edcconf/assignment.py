"""Ceilings and qualifications judged where a grant is assigned (002, 004; qualifications of #20).

A grant above its ceiling, or whose person lacks a qualification its role requires, is judged against the
applied state: `plan` refuses to add or change it and keeps (with a warning) or suspends what is already
applied; `validate`, which plans nothing, says per environment which of those the plan would do, and says
so plainly when an environment's state cannot be read (never an all-clear it did not verify)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .diagnostics import Diagnostic, Loc, UserError, error, warning
from .pipeline import Desired
from .plan import Plan
from .questions.compliance import non_compliant_pairs
from .rules import ceilings as ceilings_rules
from .rules import qualifications as qualifications_rules
from .rules.ceilings import at_assignment, kept_warning
from .state import open_backend

if TYPE_CHECKING:
    from .resolve import EnvironmentState


def check_ceilings(plan: Plan, env_state: EnvironmentState, applied_over: Iterable[tuple[dict[str, Any], Loc]]) -> Plan:
    """002/004: the grants this plan adds or changes must be within their ceilings (UserError otherwise);
    applied grants above a ceiling that it keeps are warnings. applied_over: applied_over_ceiling(...)."""

    errors, warnings = at_assignment(plan.changes, env_state.ceilings, list(applied_over))
    if errors:
        raise UserError("the plan adds or changes grants above their ceilings", errors + list(plan.warnings) + warnings)
    return replace(plan, warnings=plan.warnings + tuple(warnings))


def check_qualifications(plan: Plan, env_state: EnvironmentState, applied: Mapping[str, Any]) -> Plan:
    """A declared grant whose person lacks a qualification its role requires is refused if the plan would
    add it (not applied yet), and suspended (revoked, with a warning) if applied. applied: grant keys."""
    errors, warnings = qualifications_rules.at_assignment(
        env_state.qualifications, applied, qualifications_rules.revoked_keys(plan.changes)
    )
    if errors:
        raise UserError(
            "the plan adds grants for people who lack a qualification their role requires",
            errors + list(plan.warnings) + warnings,
        )
    return replace(plan, warnings=plan.warnings + tuple(warnings))


def validate_qualifications(root: Path, desired: Desired) -> list[Diagnostic]:
    """What `validate` says of declared grants whose person lacks a qualification, per environment whose
    state it can read: not applied yet is `qualification-missing` (the plan would refuse to add it),
    applied is `qualification-suspended` (the plan revokes it). One diagnostic per grant, its environments
    named."""
    found: dict[tuple[str, str, Any], tuple[Diagnostic, list[str]]] = {}
    unread: dict[tuple[str, Any], list[str]] = {}  # (the grant's message, loc) -> environments not read
    for env, unqualified in desired.resolution.qualifications.items():
        if not unqualified:
            continue
        try:
            have = open_backend(root, desired.model.environments[env]).read().effective.get("grants", {})
        except Exception as exc:  # noqa: BLE001 - any backend's failure (psycopg's own errors too): not read
            why = _why_unread(exc)
            for diag in unqualified.values():  # never silence: validate says it could not tell (as for ceilings)
                unread.setdefault((diag.message, diag.loc), []).append(f"{env} ({why})")
            continue
        errors, warnings = qualifications_rules.at_assignment(unqualified, have, have)  # applied: revoked
        for diag in errors + warnings:
            found.setdefault((diag.code, diag.message, diag.loc), (diag, []))[1].append(env)
    out = [replace(d, message=f"{d.message} (in {', '.join(envs)})") for d, envs in found.values()]
    for (message, loc), envs in unread.items():
        out.append(
            warning(
                qualifications_rules.QUALIFICATION_UNVERIFIED.code,
                f"{message} [the state of {', '.join(envs)} could not be read, so validate cannot tell "
                "whether the plan refuses this grant (qualification-missing) or suspends it "
                "(qualification-suspended)]",
                loc,
            )
        )
    return out


def validate_ceilings(root: Path, desired: Desired) -> list[Diagnostic]:
    """What `validate` (which plans nothing) says of grants above their ceilings, per environment, against
    the state it can read: a grant applied exactly as declared is kept (a warning, as the plan says); any
    other (new, or changed since it was applied) is `ceiling-exceeded`, as the plan would refuse it. When
    an environment's state cannot be read, a `ceiling-unverified` warning says that the plan refuses the
    grant unless it was applied unchanged."""

    model = desired.model
    refused: dict[tuple, tuple] = {}  # (the error's message, loc) -> (error, environments): one error per grant
    unread: dict[tuple, list[str]] = {}
    out: list[Diagnostic] = []
    for env, above in desired.resolution.ceilings.items():
        if not above:
            continue
        try:
            previous = open_backend(root, model.environments[env]).read()
        except Exception as exc:  # noqa: BLE001 - any backend's failure (psycopg's own errors too): not read
            why = _why_unread(exc)
            for diag, _ in above.values():
                unread.setdefault((diag.message, diag.loc), []).append(f"{env} ({why})")
            continue
        have = previous.effective.get("grants", {})
        kept = {p["key"]: p for p in non_compliant_pairs(model, previous, desired.resolution.as_of)}
        for key, (diag, stored) in above.items():
            if have.get(key) == stored and key in kept:
                person = model.people.get(kept[key]["user"])
                out.append(kept_warning(kept[key], person.loc if person else diag.loc, env))
            else:
                what = "not applied yet" if key not in have else "changed since it was applied"
                refused.setdefault((diag.message, diag.loc), (diag, []))[1].append(f"{env}: {what}")
    for (message, loc), (diag, envs) in refused.items():
        out.append(
            error(
                diag.code,
                f"{message} [{'; '.join(envs)}: a grant that is added or changed must be "
                "within the ceiling (002, 004)]",
                loc,
                **dict(diag.details),
            )
        )
    for (message, loc), envs in unread.items():
        out.append(
            warning(
                ceilings_rules.CEILING_UNVERIFIED.code,
                f"{message} [the state of {', '.join(envs)} could not be read, so "
                "validate cannot tell whether this grant is applied unchanged (kept, with a warning) or "
                "added or changed (the plan refuses it: ceiling-exceeded)]",
                loc,
            )
        )
    return out


def _why_unread(exc: Exception) -> str:
    """Why an environment's state could not be read, as validate says it: a user error's own message, else
    the backend's error (psycopg's too) by its text or its type."""
    return exc.message if isinstance(exc, UserError) else (str(exc) or type(exc).__name__)
