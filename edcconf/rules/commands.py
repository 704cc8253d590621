"""Refusals of the commands themselves: usage, missing configuration, fmt, init, tokens."""

from __future__ import annotations

from .book import rule

FAMILY = "commands"

CONFIG_MISSING = rule(
    "config-missing",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the configuration directory does not exist or holds no declarations",
    text="the configuration directory does not exist or holds no declarations",
)

FMT_CHECK = rule(
    "fmt-check",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`fmt --check` found files not in the canonical style",
    text="`fmt --check` found files not in the canonical style (it lists them and writes nothing)",
)

FMT_UNREADABLE = rule(
    "fmt-unreadable",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`fmt` met a file that does not load",
    text=("`fmt` met a file that does not load (not UTF-8, a YAML error): it leaves it alone; `validate` says why"),
)

FMT_CHANGED_MEANING = rule(
    "fmt-changed-meaning",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the canonical form of a file would read differently from the file",
    text=(
        "the canonical form of a file would read differently from the file (a YAML writer's mistake, "
        "caught by reading both back): `fmt` leaves the file as it is"
    ),
)

INIT_EXISTS = rule(
    "init-exists",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`init` into a folder that already has environments/, groups/ or studies/",
    text=(
        "`init` into a folder that already has environments/, groups/ or studies/ (init never overwrites "
        "a configuration)"
    ),
)

USAGE = rule(
    "usage",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="an option's value cannot be read",
    text=(
        "an option's value cannot be read (`--at`, `--lock-timeout`), or options that do not go together; "
        "`apply --at` (apply always happens as of today)"
    ),
)

_NO_LIVE_READ_TEXT = (
    "`compliance --live` or `report --live` with no provider that reads live access; `edcconf test` "
    "with no `tests/access/*.yaml`"
)

NO_TESTS = rule(
    "no-tests",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`compliance --live` or `report --live` with no provider that reads live access",
    text=_NO_LIVE_READ_TEXT,
)

_NO_TOKEN_TEXT = (
    "a `redcap` target's token variable is unset or not a token; REDCap could not be read (its message verbatim)"
)

NO_TOKEN = rule(
    "no-token",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="a `redcap` target's token variable is unset or not a token",
    text=_NO_TOKEN_TEXT,
)

PROVIDER_ERROR = rule(
    "provider-error",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="a `redcap` target's token variable is unset or not a token",
    text=_NO_TOKEN_TEXT,
)
