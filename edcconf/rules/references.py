"""References between declarations and the uniqueness of ids (docs/format.md, 001)."""

from __future__ import annotations

from .book import rule

FAMILY = "references"

UNKNOWN_REFERENCE = rule(
    "unknown-reference",
    family=FAMILY,
    source="docs/format.md",
    kind="error",
    summary=(
        "every user, site, role, base role, tag, form tag, environment, country and REDCap right key named is declared"
    ),
    text=(
        "every user, site, role, base role, tag, form tag, environment, country and REDCap right key "
        'named is declared (with "did you mean")'
    ),
    example="unknown user 'mona.mom'; did you mean 'mona.mon'?",
)

DUPLICATE_ID = rule(
    "duplicate-id",
    family=FAMILY,
    source="001",
    kind="error",
    summary="`openclinica_domain:` is declared once",
    text=(
        "`openclinica_domain:` is declared once; ids of environments, sites, groups, studies, forms and "
        "usernames are unique, compared folded: ignoring case, full-width (NFKC) and invisible "
        "characters, so that `HEART-01` and `heart-01` are never two studies (nor two folders); two "
        "people sharing an e-mail (compared folded the same way) when either has access to an OpenClinica "
        "study (any grant, any environment; both positions named); a person is in one group; one grant "
        "per person, role, study and environment (every site of a role in one grant); a custom role never "
        "reuses a base role's name"
    ),
    example="username 'cara.crc' is declared twice (ignoring case); first at groups/more.yaml:4",
)
