"""Importing the systems' files into the configuration (`edcconf import`)."""

from __future__ import annotations

from .book import rule

FAMILY = "imports"

IMPORT_NO_EMAIL = rule(
    "import-no-email",
    family=FAMILY,
    source="001, 002, 003",
    kind="warning",
    summary="`import sag` / `import acg` declared a new person without an e-mail",
    text=(
        "`import sag` / `import acg`: a person new to the configuration whose file gives no e-mail (an "
        "ACG assignment file never does; `import acg --users USERS.csv` takes e-mails and names from "
        "REDCap's user export) is declared without one, with this warning; validate then says "
        "`person-without-email`"
    ),
    example=(
        "li.wei is declared without an e-mail: the file gives none (import acg --users USERS.csv reads "
        "e-mails from REDCap's user export); add email: before granting them OpenClinica or Vault access"
    ),
)

IMPORT_CONFLICT = rule(
    "import-conflict",
    family=FAMILY,
    source="docs/interchange.md",
    kind="warning",
    summary=("a person already declared in another group, or a grant already declared, is left as it is and reported"),
    text=(
        "a person already declared in another group, or a grant already declared, is left as it is and "
        "reported (an import adds, it does not rewrite what is under review)"
    ),
    example=(
        "bob.smith is in group monitors in the configuration; the file puts them in sag-dm: move them by "
        "hand if that is intended"
    ),
)

IMPORT_DISABLED = rule(
    "import-disabled",
    family=FAMILY,
    source="003",
    kind="warning",
    summary=("`import vault`: a row with Study Status Disabled is declared as a grant with `study_status: disabled`"),
    text=(
        "`import vault`: a row with Study Status Disabled is declared as a grant with `study_status: "
        "disabled` (Vault keeps the user in the study with that role and sites, without access); the "
        "warning shows the row's Last Login when the file has one"
    ),
    example=(
        "li.wei has Study Status Disabled (last login 2025-11-01 09:30): declared with study_status: "
        "disabled (on record in Vault, no access)"
    ),
)

IMPORT_NO_ROLE = rule(
    "import-no-role",
    family=FAMILY,
    source="REDCap API",
    kind="error",
    summary="`import redcap`: a user's rights cannot be declared exactly as a role",
    text=(
        "`import redcap` / `redcap-users`: each user gets a role whose resolved rights are exactly what "
        "REDCap holds (a declared or catalog role, a REDCap user role kept as `redcap_role:`, or a "
        "generated one); a generated role that would not resolve to the same record refuses the whole "
        "import"
    ),
    example=("eve.stray's rights in REDCap could not be declared exactly (please report it); nothing was written"),
)

IMPORT_SITE = rule(
    "import-site",
    family=FAMILY,
    source="REDCap API",
    kind="error",
    summary="`import redcap`: a user's data access group is no declared site",
    text=(
        "`import redcap` / `redcap-users`: each data access group a user is in is a declared site (by id, "
        "or whose derived DAG name it is), or `--site-country` declares it as a new site"
    ),
    example=(
        "data access group ucsf (UCSF) of DIAB-03 is no declared site: declare it, or give --site-country "
        "CC to declare it as a new site"
    ),
)

IMPORT_OVER_CEILING = rule(
    "import-over-ceiling",
    family=FAMILY,
    source="002, 004",
    kind="warning",
    summary="an imported user whose REDCap rights exceed their group's ceiling",
    text=(
        "an imported user whose REDCap rights exceed their group's ceiling: the import keeps the rights "
        "exactly; validate and plan refuse the grant as one to add until the ceiling allows it, or until "
        "the state records it as applied (`edcconf state import`): then it is an applied grant above the "
        "ceiling, kept with `ceiling-noncompliant` (ceilings are checked at assignment)"
    ),
    example="eve.stray holds rights in REDCap above the ceiling of group staff: design full (allowed none); …",
)

IMPORT_GROUP = rule(
    "import-group",
    family=FAMILY,
    source="docs/format.md",
    kind="error",
    summary="people new to the configuration need `--group`",
    text="people new to the configuration need `--group` (the group they join)",
    example="li.wei is not declared yet: name the group new people join with --group",
)

CONFIG_INVALID = rule(
    "config-invalid",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`import` into a configuration that has errors",
    text="`import` into a configuration that has errors",
)

_IMPORT_INVALID_TEXT = (
    "an import file has errors (nothing written); `state import` names groups or people the "
    "configuration does not declare yet"
)

IMPORT_INVALID = rule(
    "import-invalid",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="an import file has errors",
    text=_IMPORT_INVALID_TEXT,
)

IMPORT_MISSING = rule(
    "import-missing",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="an import file has errors",
    text=_IMPORT_INVALID_TEXT,
)
