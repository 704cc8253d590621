"""Institutional policy on roles and studies: role levels, sites before access, queries a role sees (001, 003)."""

from __future__ import annotations

from .book import rule

FAMILY = "policy"

ROLE_LEVEL = rule(
    "role-level",
    family=FAMILY,
    source="001, 003, docs/catalogs.md",
    kind="error",
    summary="site-only roles (CRC, Investigator) are not granted study-wide",
    text=(
        "site-only roles (CRC, Investigator) are not granted study-wide; study-only roles (Data Manager, "
        "Data Specialist) are not granted on listed sites (Vault: by country is study-level access too)"
    ),
    example=(
        "crc is a site-level role and cannot be granted on all sites of EXTRA-03; list the sites, or use "
        "a study-level role such as data_entry or monitor"
    ),
)

STUDY_WITHOUT_SITES = rule(
    "study-without-sites",
    family=FAMILY,
    source="001",
    kind="error",
    summary="a study has at least one site before anyone is granted access",
    text="a study has at least one site before anyone is granted access",
    example=(
        "study EXTRA-03 grants access but has no sites; add at least one site before anyone is granted access (001)"
    ),
)

QUERIES_HIDDEN = rule(
    "queries-hidden",
    family=FAMILY,
    source="001",
    kind="warning",
    summary="a role that may close queries",
    text=(
        "a role that may close queries (Monitor, Data Manager, …) has no access to a form: its holders "
        "cannot see that form's queries"
    ),
    example=(
        "in test, role data_manager (Data Manager) in HEART-01 has no access to adverse_events: dina.dm "
        "cannot see or close queries on that form"
    ),
)
