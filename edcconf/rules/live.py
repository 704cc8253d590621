"""Reading live access from the systems: drift, and studies whose live access could not be read."""

from __future__ import annotations

from .book import rule

FAMILY = "live"

DRIFT = rule(
    "drift",
    family=FAMILY,
    source="README",
    kind="warning",
    summary="access changed in REDCap outside edcconf; the plan restores it",
    text=(
        "`plan` read a REDCap project live (`--refresh`, the default, with a `redcap` target) and found "
        "access changed outside edcconf; the plan restores it"
    ),
    example="DIAB-03/omar.haddad was changed in REDCap outside edcconf: design: live 1, applied 0",
)

DRIFT_UNCHECKED = rule(
    "drift-unchecked",
    family=FAMILY,
    source="[live reads](#live-reads)",
    kind="warning",
    summary="`plan --allow-unread` could not read a project that a `redcap` target names",
    text=(
        "`plan --allow-unread` could not read a project that a `redcap` target names (token unset, REDCap "
        "unreachable): its drift is unknown and not restored. Without `--allow-unread` the plan refuses "
        "(`live-unread`)"
    ),
    example=(
        "live access of DIAB-03 NOT read (--allow-unread): environment variable REDCAP_TOKEN_DIAB (the "
        "API token of REDCap study DIAB-03) is not set; its drift is unknown and this plan does not "
        "restore it"
    ),
)

_NO_LIVE_READ_TEXT = (
    "`compliance --live` or `report --live` with no provider that reads live access; `edcconf test` "
    "with no `tests/access/*.yaml`"
)

NO_LIVE_READ = rule(
    "no-live-read",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`compliance --live` or `report --live` with no provider that reads live access",
    text=_NO_LIVE_READ_TEXT,
)

LIVE_UNREAD = rule(
    "live-unread",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`drift`, `compliance --live`, `report --live`, `plan` or `apply --env`",
    text=(
        "`drift`, `compliance --live`, `report --live`, `plan` or `apply --env` (their refresh) could not "
        "read the live access of a study whose target reads it (token unset, REDCap down): one error per "
        "study with why; `--allow-unread` goes on with a warning ([live reads](#live-reads))"
    ),
)
