"""People's identities in the systems: e-mails per system (001, 003), OpenClinica's id lengths, and when two
usernames, ids or e-mails are the same one (what every duplicate check compares).

A person who reads `cara@hospital.example.org` cannot see a zero-width space inside it, nor tell a
full-width `ｃａｒａ` from `cara`, nor (in most systems) `Cara` from `cara`; the systems and mail servers
often cannot either. So duplicates are judged on the folded form: compatibility characters made plain
(NFKC: full-width letters and digits, ligatures), format characters removed (zero-width spaces and
joiners, soft hyphens, direction marks, byte-order marks), and case folded.
"""

from __future__ import annotations

import unicodedata

from .book import rule

FAMILY = "identity"

PERSON_WITHOUT_EMAIL = rule(
    "person-without-email",
    family=FAMILY,
    source="001, 003",
    kind="error",
    summary="a person granted access to an OpenClinica study",
    text=(
        "a person granted access to an OpenClinica study (OpenClinica needs an e-mail for every user) or "
        'to a Vault study (Vault\'s user import: "Email is required") has an e-mail; anyone else may leave '
        "it out while it is unknown (an ACG assignment file carries none), with a warning"
    ),
    example=(
        "nora has no e-mail and is granted access to OpenClinica study HEART-01 (at "
        "studies/heart.yaml:23); OpenClinica needs an e-mail for every user (001): add email: to nora"
    ),
)

STUDY_ID_TOO_LONG = rule(
    "study-id-too-long",
    family=FAMILY,
    source="001",
    kind="error",
    summary="study ids have at most 30 characters",
    text="study ids have at most 30 characters",
    example=(
        "study id 'HEART-01-A-VERY-LONG-STUDY-IDENTIFIER' has 36 characters; OpenClinica allows at most 30: shorten it"
    ),
)

SHARED_EMAIL = rule(
    "shared-email",
    family=FAMILY,
    source="001",
    kind="warning",
    summary="two people share an e-mail",
    text=(
        "two people share an e-mail (compared folded: ignoring case, full-width and invisible characters) "
        "and neither has access to an OpenClinica study: REDCap and Vault accept a shared e-mail, "
        "OpenClinica requires a different one for each user (as soon as one of them has OpenClinica "
        "access it is `duplicate-id`)"
    ),
    example=(
        "bob shares the e-mail 'lab@hospital.example.org' with ann (groups/lab.yaml:4, ignoring case): "
        "REDCap and Vault accept that, OpenClinica does not (001), and neither has access to an "
        "OpenClinica study; give each their own e-mail before either is granted OpenClinica access"
    ),
)


def fold(text: str) -> str:
    """The form duplicate checks compare (see the module); plain ASCII only changes case."""
    if text.isascii():
        return text.lower()
    plain = unicodedata.normalize("NFKC", text)
    visible = "".join(c for c in plain if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", visible.casefold())


def ignoring(a: str, b: str) -> str:
    """How two spellings found to be the same differ, for a message: "ignoring case" or more."""
    if a == b:
        return ""
    if a.lower() == b.lower():
        return "ignoring case"
    return "ignoring case, full-width and invisible characters"
