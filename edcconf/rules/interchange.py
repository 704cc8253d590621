"""The systems' file formats (docs/interchange.md): CSV structure, values, and Vault's own user-import checks (003)."""

from __future__ import annotations

from .book import Rule, rule

FAMILY = "interchange"

CSV_MALFORMED = rule(
    "csv-malformed",
    family=FAMILY,
    source="docs/interchange.md",
    kind="error",
    summary="the file is UTF-8 CSV, every row has the header's number of cells",
    text="the file is UTF-8 CSV, every row has the header's number of cells",
    example="sag-definitions.csv:4: row has 41 cells, the header 42",
)

CSV_MISSING_COLUMN = rule(
    "csv-missing-column",
    family=FAMILY,
    source="docs/interchange.md",
    kind="error",
    summary="every column the format requires is in the header",
    text="every column the format requires is in the header (found by name)",
    example="sag-definitions.csv:1: missing column sag_name",
)

CSV_UNKNOWN_COLUMN = rule(
    "csv-unknown-column",
    family=FAMILY,
    source="docs/interchange.md, 004",
    kind="error",
    summary="no column the format does not know",
    text="no column the format does not know (SAG: a right key that does not exist)",
    example="unknown column 'desing'; did you mean 'design'?",
)

CSV_UNKNOWN_VALUE = rule(
    "csv-unknown-value",
    family=FAMILY,
    source="docs/interchange.md, 002, 004",
    kind="error",
    summary="each value is one the system accepts for that column",
    text=(
        "each value is one the system accepts for that column (`user_rights` 0/2/1, ids `sag_…`, `G-…`) "
        "and each group id an assignment names exists"
    ),
    example="dataExport is 7; allowed: 0, 1, 2, 3",
)

CSV_REQUIRED = rule(
    "csv-required",
    family=FAMILY,
    source="003",
    kind="error",
    summary="a required cell is not blank",
    text=(
        "a required cell is not blank; a person new to the configuration comes with an e-mail from a "
        "Vault file or a REDCap project (group files: see `import-no-email`)"
    ),
    example="sag_id is blank; fill it in",
)

CSV_DUPLICATE_ROW = rule(
    "csv-duplicate-row",
    family=FAMILY,
    source="002, 004",
    kind="error",
    summary="a group (SAG, ACG), role or user-rights row appears once",
    text=(
        "a group (SAG, ACG), role or user-rights row appears once (an error); a username listed twice in "
        "an assignment upload (SAG, ACG, REDCap role or DAG assignments), ignoring case, keeps its last "
        "row as REDCap does: a warning naming both lines"
    ),
    example="user bob.smith is also assigned on line 3; REDCap keeps the last row (line 7)",
)

_VAULT_TEXT = (
    "Vault's own validation errors and warnings of its user import, by their names (a duplicate row "
    'is an error for edcconf); `import vault` gives "User exists. Applying Study access." at the row '
    "of each person already declared (no person is created again, only the row's access is declared)"
)


def _vault(code: str, name: str) -> tuple[str, Rule]:
    return name, rule(
        code,
        family=FAMILY,
        source="003",
        kind="error",
        summary=f"Vault's user import: {name}",
        text=_VAULT_TEXT,
        example="Invalid Status: 'Active'; enter Enabled or Disabled",
    )


# Vault's own checks of its user import (003), by the name Vault gives each in its results: one code each.
VAULT: dict[str, Rule] = dict(
    (
        _vault("invalid-status", "Invalid Status"),
        _vault("invalid-email-format", "Invalid Email Format"),
        _vault("invalid-user-name", "Invalid User Name"),
        _vault("invalid-timezone", "Invalid Timezone"),
        _vault("invalid-locale", "Invalid Locale"),
        _vault("invalid-language", "Invalid Language"),
        _vault("invalid-security-profile", "Invalid Security Profile"),
        _vault("invalid-security-policy", "Invalid Security Policy"),
        _vault("invalid-application-role", "Invalid Application Role"),
        _vault("invalid-site", "Invalid Site"),
        _vault("invalid-country", "Invalid Country"),
        _vault("inactive-user", "Inactive User"),
        _vault("environment-does-not-exist", "Environment does not exist"),
        _vault("field-is-required", "{Field} is required"),
        _vault("duplicate-user-record", "Duplicate user record"),
        _vault("user-exists-applying-study-access", "User exists. Applying Study access."),
    )
)
DUPLICATE_USER_RECORD = VAULT["Duplicate user record"]
USER_EXISTS_APPLYING_STUDY_ACCESS = VAULT["User exists. Applying Study access."]
