"""What each system can hold: REDCap's DAGs, versions and form levels, Vault's site lists (REDCap, 003)."""

from __future__ import annotations

from .book import rule

FAMILY = "systems"

REDCAP_ONE_DAG = rule(
    "redcap-one-dag",
    family=FAMILY,
    source="docs/catalogs.md, REDCap",
    kind="error",
    summary="a REDCap grant is to one site",
    text="a REDCap grant is to one site (its data access group) or to all sites (no DAG)",
    example=(
        "ed.entry is granted 2 sites of REDCap study EXTRA-1 (BOS, NYC); REDCap puts a user in at most "
        "one data access group per project: grant one site, or all sites"
    ),
)

REDCAP_DAG_COLLISION = rule(
    "redcap-dag-collision",
    family=FAMILY,
    source="REDCap",
    kind="error",
    summary="the sites of a REDCap study are distinct data access groups",
    text=(
        "the sites of a REDCap study are distinct data access groups: REDCap derives a group's unique "
        "name from its label (lower case, letters, digits and `_`, at most 18 characters) and the User "
        "Rights upload names the group by it, so sites that differ only in case, in `-` against `_`, or "
        "after their first 18 characters would be one group (both sites named)"
    ),
    example=(
        "sites ST-LOUIS and ST_LOUIS of REDCap study RC-1 would be one data access group: REDCap names "
        "both 'st_louis' (lower case, letters, digits and underscores, at most 18 characters); give one "
        "of them an id that differs there"
    ),
)

REDCAP_VERSION = rule(
    "redcap-version",
    family=FAMILY,
    source="REDCap API, 004",
    kind="error",
    summary="a REDCap role holds only rights the REDCap version of each environment's `targets.redcap`",
    text=(
        "a REDCap role holds only rights the REDCap version of each environment's `targets.redcap` "
        "(`version:`, default the LTS line of docs/interchange.md) can carry in its user-rights API and "
        "User Rights upload: per-form delete needs 15.6, randomisation 14.5, API modules 14.0, read-only "
        "user rights 14.1; data quality resolution, double data entry, DTS, real-time web service and "
        "external-module configuration exist only in SAG/ACG ceilings"
    ),
    example=(
        "role r in S holds rights REDCap 14.0.0 (the version of targets.redcap in test) cannot carry: "
        "form f: view & edit + delete (per-form delete needs REDCap 15.6)"
    ),
)

FORM_LEVEL_UNSUPPORTED = rule(
    "form-level-unsupported",
    family=FAMILY,
    source="docs/catalogs.md",
    kind="error",
    summary="a custom role asks only for form levels its system has",
    text=(
        "a custom role asks only for form levels its system has (REDCap: none, read, edit — no review) "
        "and names the nearest allowed levels"
    ),
    example=("role reviewer asks for 'review' (default) but REDCap has no review level on forms; use read or edit"),
)

VAULT_ALL_SITES_LISTED = rule(
    "vault-all-sites-listed",
    family=FAMILY,
    source="003",
    kind="error",
    summary="a Vault grant does not name every site of its study",
    text=(
        "a Vault grant does not name every site of its study (one site of a one-site study included): "
        'Vault\'s user import refuses such a Site Access ("Invalid Site: You cannot list all Sites") and '
        "holds all sites only as study access, which also covers sites added later; for a site-level role "
        "(which cannot have study access) the message says to grant by `countries:` or fewer sites"
    ),
    example=(
        "nora.lund is granted every site of Vault study ONC-04 by name (MGH, CHU-LYON, APHP, OUS); Vault "
        "refuses a list of all sites and gives them only as study access, which also covers sites added "
        "later: write sites: all"
    ),
)
