"""Refusals of plan and apply: brakes, saved plans, selection, protection, providers."""

from __future__ import annotations

from .book import rule

FAMILY = "plan"

UNKNOWN_TARGET = rule(
    "unknown-target",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`--study` or `--target` names nothing declared, recorded or planned",
    text=(
        "`plan`/`apply` `--study` names a study, or `--target` an address, that is neither declared for "
        "the environment, recorded in its state nor planned (with a suggestion when one is close); a "
        "malformed address, a `role.` or `environment.` address, or `--study`/`--target` with a saved "
        "plan file is `usage`"
    ),
)

PROTECTED = rule(
    "protected",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`apply --env` on an environment that is `protected: true` as last applied",
    text=(
        "`apply --env` on an environment that is `protected: true` as last applied (a change to "
        "`protected: false` holds from the apply after the reviewed plan that makes it)"
    ),
)

_CONFIRMATION_REQUIRED_TEXT = "`apply` without a terminal and without `--yes`, or the answer was no"

CONFIRMATION_REQUIRED = rule(
    "confirmation-required",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`apply` without a terminal and without `--yes`, or the answer was no",
    text=_CONFIRMATION_REQUIRED_TEXT,
)

CANCELLED = rule(
    "cancelled",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`apply` without a terminal and without `--yes`, or the answer was no",
    text=_CONFIRMATION_REQUIRED_TEXT,
)

STALE_PLAN = rule(
    "stale-plan",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the state, configuration or edcconf version moved since the plan was made",
    text=(
        "the state moved between plan and apply, or a saved plan was made against another state serial or "
        "lineage, another configuration (digest), or another edcconf version"
    ),
)

SAVED_PLAN = rule(
    "saved-plan",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="a saved plan file is missing, not a plan, of another format, damaged",
    text=(
        "a saved plan file is missing, not a plan, of another format, damaged (a field of the wrong "
        "shape), or was modified after it was saved (its digest does not match)"
    ),
)

PLAN_MISMATCH = rule(
    "plan-mismatch",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`apply FILE` planned again from the configuration and state the file names",
    text=(
        "`apply FILE` planned again from the configuration and state the file names (same environment, "
        "as-of date, serial, lineage, configuration digest) and got another plan than the file's: a "
        "change, brake, warning, study system or source was edited, added, removed or reordered; the "
        "message names what differs; nothing is applied"
    ),
)

PLAN_DATE = rule(
    "plan-date",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`apply FILE` of a plan made with `plan --at` another day than today",
    text=(
        "`apply FILE` of a plan made with `plan --at` another day than today (without "
        "`--allow-other-date`, or with it on an environment protected as last applied), or of a plan made "
        "as of an earlier day for which today gives another plan"
    ),
)

MASS_REVOCATION = rule(
    "mass-revocation",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="brake: the plan revokes or lowers more grants than `safety.max_revocations`",
    text=(
        "brake: the plan revokes or lowers more grants than `safety.max_revocations` (default 25), or "
        "more than `safety.max_revocation_fraction` of a study's grants, as last applied (not as the "
        "change under review declares them); apply needs `--allow-mass-revocation`"
    ),
)

DATA_MANAGER_FLOOR = rule(
    "data-manager-floor",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary=(
        "brake: a study would keep fewer people who can manage it than `safety.min_data_managers` as last applied"
    ),
    text=(
        "brake: a study would keep fewer people who can manage it than `safety.min_data_managers` as last "
        "applied (default 1 in protected environments, 0 otherwise); apply refuses"
    ),
)

NO_TARGET = rule(
    "no-target",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="an environment has no target",
    text="an environment has no target (provider) for a system its studies use",
)

APPLY_FAILED = rule(
    "apply-failed",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="a provider refused a change",
    text="a provider refused a change; the changes before it are applied and recorded",
)
