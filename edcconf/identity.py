"""When two usernames, ids or e-mails are the same one: what every duplicate check compares.

A person who reads `cara@hospital.example.org` cannot see a zero-width space inside it, nor tell a
full-width `ｃａｒａ` from `cara`, nor (in most systems) `Cara` from `cara`; the systems and mail servers
often cannot either. So duplicates are judged on the folded form: compatibility characters made plain
(NFKC: full-width letters and digits, ligatures), format characters removed (zero-width spaces and
joiners, soft hyphens, direction marks, byte-order marks), and case folded.
"""

from __future__ import annotations

import unicodedata


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
