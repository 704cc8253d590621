"""The PostgreSQL state backend's connection string, read before libpq does so that no message can quote a
secret: what is wrong with it (said without its values), which of its values are secrets, and a message
scrubbed of them."""

from __future__ import annotations

import re
from urllib.parse import unquote

import psycopg
import psycopg.conninfo

_SECRET_KEYS = ("password", "sslpassword")
_URL = re.compile(r"postgres(?:ql)?://", re.I)
_PAIR = re.compile(r"([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'?|[^\s']\S*)")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})|%00")
UNREADABLE = (
    "in the key=value form, quote a value that holds spaces or quotes ('...', with \\' for a quote); in the "
    "URL form (postgresql://user:password@host/db), percent-encode '%', '@', ':' and '/' in the user name and "
    "password (%25, %40, %3A, %2F)"
)


def dsn_problem(dsn: str) -> str | None:
    """Why libpq would misread a connection string, or quote part of it in its error; None if it reads it
    as written. A URL whose password holds '@' or '/' as they are is split in the wrong place (the rest of
    the password becomes the host, named in the next error); a '%' that starts no escape is quoted whole."""
    url = _URL.match(dsn)
    if url is None:
        return None
    if _BAD_ESCAPE.search(dsn):
        return "holds a '%' that does not begin a percent-escape (write %25 for a '%')"
    rest = dsn[url.end() :]
    at, slash = rest.find("@"), rest.find("/")
    if rest.count("@") > 1 or (at >= 0 and 0 <= slash < at):
        return "holds '@' or '/' as they are in its user name or password (write %40 and %2F)"
    return None


def dsn_secrets(dsn: str) -> set[str]:
    """Every text of the connection string that is or may be a password, as written and as decoded: the
    password in a URL's user information and query, and in each password= of the key=value form."""

    found: set[str] = set()
    url = _URL.match(dsn)
    if url is not None:
        rest = dsn[url.end() :]
        head = rest.split("/", 1)[0]
        if "@" in head:
            userinfo = head.rsplit("@", 1)[0]
            password = userinfo.partition(":")[2]
            found |= {userinfo, password, unquote(userinfo), unquote(password)}
        for part in rest.partition("?")[2].split("&"):
            key, _, value = part.partition("=")
            if unquote(key).strip() in _SECRET_KEYS:
                found |= {value, unquote(value)}
    else:
        for key, value in _PAIR.findall(dsn):
            if key in _SECRET_KEYS:
                inner = value[1:-1] if value.startswith("'") and value.endswith("'") and len(value) > 1 else value
                found |= {value, inner, re.sub(r"\\(.)", r"\1", inner)}
    try:
        parsed = psycopg.conninfo.conninfo_to_dict(dsn)
    except (psycopg.Error, ValueError, TypeError):
        parsed = {}
    found |= {str(parsed[k]) for k in _SECRET_KEYS if parsed.get(k)} | {dsn}
    return {s for s in found if s}


def scrub(message: str, secrets: set[str]) -> str:
    """A database error without any password in it (a short one only where it stands alone)."""
    out = message
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            out = out.replace(secret, "***")
        else:
            out = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", out)
    out = re.sub(r"(password\s*=\s*)\S+", r"\1***", out, flags=re.I)
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", out)
