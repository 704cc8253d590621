"""Veeva Vault CDMS study user import and export (docs/interchange.md, seed 003 "Importing Study Users").

Columns are 003's: Study Environment, Last Name, First Name, User Name, Study Status, Security Profile,
Study Role, Company, Email, Timezone, Site Access, Country Access, Title, Language, Locale, Security
Policy; the export adds Last Login, which Vault's import ignores: reading keeps it in the row (shown,
never declared from) and writing includes it only in the export shape. Study Environment is only for automated
deployment studies (003: "If your study uses manual deployment, do not include this column"), so reading
accepts a file without it; writing always includes it. Company and Title must be present, may be blank.
Site Access and Country Access hold comma-separated lists; both blank is study (all-site) access, and
listing every site of the study is Vault's "Invalid Site" ("You cannot list all Sites").

Validation reports Vault's own names from 003: the code is the kebab-case of the name, the message
starts with it and `details["vault"]` carries it. Errors: "{Field} is required", "Environment does not
exist", "Invalid Email Format", "Invalid User Name" (003: remove @ ( ) [ ] \\ . : ; < >), "Invalid
Timezone" (an IANA name known to zoneinfo), "Invalid Locale" (a locale tag `ll_CC` whose language is the
row's Language), "Invalid Language" (a language tag `ll`), "Invalid Status" (Enabled/Disabled),
"Invalid Security Profile", "Invalid Security Policy" (Basic), "Invalid Application Role", "Invalid
Site", "Invalid Country", "Inactive User" (a cross-domain user marked Inactive in their home domain,
when `inactive_users` is given: 003 says to remove the row); warnings "Duplicate user record" (the same user twice for one environment) and
"User exists. Applying Study access." (when `existing_users` is given). The set-based checks run only when
the caller passes the set.

Dialect: 003 does not say how Vault writes its CSV; we write RFC 4180 (CRLF after every row, cells quoted
only when they hold a comma, quote or line break), UTF-8 without BOM, which Vault's importer accepts.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache

from ..diagnostics import Diagnostic, Loc, error, warning
from ..rules import interchange as interchange_rules
from ._csv import Parsed, quote_minimal, read_table, write_table

NEWLINE = "\r\n"
COLUMNS: tuple[str, ...] = (
    "Study Environment",
    "Last Name",
    "First Name",
    "User Name",
    "Study Status",
    "Security Profile",
    "Study Role",
    "Company",
    "Email",
    "Timezone",
    "Site Access",
    "Country Access",
    "Title",
    "Language",
    "Locale",
    "Security Policy",
)
LAST_LOGIN = "Last Login"
ALL_ENVIRONMENTS = "all environments"
STATUSES = ("Enabled", "Disabled")
SECURITY_POLICIES = ("Basic",)
REQUIRED_VALUES = (
    "Study Environment",
    "Last Name",
    "First Name",
    "User Name",
    "Study Status",
    "Security Profile",
    "Study Role",
    "Email",
    "Timezone",
    "Language",
    "Locale",
    "Security Policy",
)
_USER_NAME_FORBIDDEN = set(
    "()[]\\:;<> \t"
)  # see read_vault_users: 003 also lists @ and ., which every Vault user name (name@domain) and edcconf username (bob.smith) contains
_EMAIL = re.compile(r"[^@\s,;<>()\[\]]+@[^@\s,;<>()\[\]]+\.[^@\s,;<>()\[\].]+")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_LOCALE = re.compile(r"([a-z]{2,3})_[A-Z]{2}")


@dataclass(frozen=True)
class VaultUser:
    study_environment: str
    last_name: str
    first_name: str
    user_name: str
    study_status: str
    security_profile: str
    study_role: str
    company: str
    email: str
    timezone: str
    site_access: tuple[str, ...]
    country_access: tuple[str, ...]
    title: str
    language: str
    locale: str
    security_policy: str
    last_login: str = ""  # Vault's export only: read back when present, written only in the export shape
    line: int = field(default=0, compare=False)  # where a read row starts in its file (0: not read)
    file: str = field(default="", compare=False)  # the file a read row comes from

    def cells(self) -> list[str]:
        return [
            self.study_environment,
            self.last_name,
            self.first_name,
            self.user_name,
            self.study_status,
            self.security_profile,
            self.study_role,
            self.company,
            self.email,
            self.timezone,
            ",".join(self.site_access),
            ",".join(self.country_access),
            self.title,
            self.language,
            self.locale,
            self.security_policy,
        ]


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _kebab(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _vault(diags: list[Diagnostic], name: str, explain: str, loc: Loc, *, warn: bool = False, **details) -> None:
    code = interchange_rules.VAULT[name].code  # a name Vault does not have fails here, not in a user's file
    make = warning if warn else error
    diags.append(make(code, f"{details.pop('shown', name)}: {explain}", loc, vault=name, **details))


def _split(cell: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in cell.split(",") if p.strip())


def read_vault_users(
    data: bytes,
    file: str,
    *,
    sites: AbstractSet[str] | None = None,
    countries: AbstractSet[str] | None = None,
    roles: AbstractSet[str] | None = None,
    environments: AbstractSet[str] | None = None,
    security_profiles: AbstractSet[str] | None = None,
    existing_users: AbstractSet[str] | None = None,
    inactive_users: AbstractSet[str] | None = None,
) -> Parsed[VaultUser]:
    diags: list[Diagnostic] = []
    existing = {u.casefold() for u in existing_users} if existing_users is not None else None
    inactive = {u.casefold() for u in inactive_users} if inactive_users is not None else None
    table = read_table(data, file, required=COLUMNS[1:], optional=(COLUMNS[0], LAST_LOGIN), diags=diags)
    rows: list[VaultUser] = []
    if table is None:
        return Parsed((), tuple(diags))
    has_env = COLUMNS[0] in table.header
    seen: dict[tuple[str, str], int] = {}
    for rec in table.records:
        loc = Loc(file, rec.line)
        c = {k: v.strip() for k, v in rec.cells.items()}
        n = len(diags)
        for column in REQUIRED_VALUES:
            if column in c and not c[column]:
                _vault(
                    diags,
                    "{Field} is required",
                    f"provide a value for {column}",
                    loc,
                    shown=f"{column} is required",
                    field=column,
                )
        env, user = c.get(COLUMNS[0], ""), c["User Name"]
        if env and environments is not None and env != ALL_ENVIRONMENTS and env not in environments:
            _vault(
                diags,
                "Environment does not exist",
                f"{env!r} is not an environment of this study; use one of "
                f"{', '.join(sorted(environments))} or {ALL_ENVIRONMENTS!r}",
                loc,
                value=env,
            )
        if c["Email"] and not _EMAIL.fullmatch(c["Email"]):
            _vault(diags, "Invalid Email Format", f"{c['Email']!r}; use the someone@example.com format", loc)
        if user and _USER_NAME_FORBIDDEN & set(user):
            _vault(
                diags,
                "Invalid User Name",
                f"{user!r}; remove the special characters ( ) [ ] \\ : ; < > and spaces",
                loc,
            )
        if c["Timezone"] and c["Timezone"] not in _timezones():
            _vault(
                diags,
                "Invalid Timezone",
                f"{c['Timezone']!r}; enter a supported time zone such as America/New_York or Europe/Paris",
                loc,
            )
        lang_ok = bool(_LANGUAGE.fullmatch(c["Language"]))
        if c["Language"] and not lang_ok:
            _vault(diags, "Invalid Language", f"{c['Language']!r}; enter a language tag such as en or fr", loc)
        m = _LOCALE.fullmatch(c["Locale"])
        if c["Locale"] and (not m or (lang_ok and m.group(1) != c["Language"])):
            _vault(
                diags,
                "Invalid Locale",
                f"{c['Locale']!r}; enter a locale tag such as en_US whose language "
                f"is the row's Language ({c['Language'] or 'blank'})",
                loc,
            )
        if c["Study Status"] and c["Study Status"] not in STATUSES:
            _vault(diags, "Invalid Status", f"{c['Study Status']!r}; enter Enabled or Disabled", loc)
        if c["Security Profile"] and security_profiles is not None and c["Security Profile"] not in security_profiles:
            _vault(
                diags,
                "Invalid Security Profile",
                f"{c['Security Profile']!r} does not exist in this vault; "
                f"use one of {', '.join(sorted(security_profiles))}",
                loc,
            )
        if c["Security Policy"] and c["Security Policy"] not in SECURITY_POLICIES:
            _vault(diags, "Invalid Security Policy", f"{c['Security Policy']!r}; enter Basic", loc)
        if c["Study Role"] and roles is not None and c["Study Role"] not in roles:
            _vault(
                diags,
                "Invalid Application Role",
                f"{c['Study Role']!r} does not exist in this vault; use one of {', '.join(sorted(roles))}",
                loc,
            )
        site_access, country_access = _split(c["Site Access"]), _split(c["Country Access"])
        if sites is not None:
            for s in site_access:
                if s not in sites:
                    _vault(
                        diags, "Invalid Site", f"{s!r} is not a site of this study; see EDC Tools > Sites", loc, value=s
                    )
            if sites and set(site_access) >= set(sites):
                _vault(
                    diags,
                    "Invalid Site",
                    "You cannot list all Sites; leave Site Access and Country Access "
                    "blank to give study (all-site) access",
                    loc,
                )
        if countries is not None:
            for s in country_access:
                if s not in countries:
                    _vault(
                        diags,
                        "Invalid Country",
                        f"{s!r} is not a country of this study; see EDC Tools > Study Countries",
                        loc,
                        value=s,
                    )
        if user and inactive is not None and user.casefold() in inactive:
            _vault(
                diags,
                "Inactive User",
                f"{user} is marked Inactive in their home domain; remove the row and re-import",
                loc,
            )
        if user:
            key_env = env.casefold()
            clash = next(
                (
                    line
                    for (u, e), line in seen.items()
                    if u == user.casefold() and (e == key_env or ALL_ENVIRONMENTS in (e, key_env))
                ),
                None,
            )
            if clash is not None:
                _vault(
                    diags,
                    "Duplicate user record",
                    f"{user} is also on line {clash}" + (f" for {env}" if env else "") + "; remove the duplicate row",
                    loc,
                    warn=True,
                )
            else:
                seen[(user.casefold(), key_env)] = rec.line
            if existing is not None and user.casefold() in existing:
                _vault(
                    diags,
                    "User exists. Applying Study access.",
                    f"{user} already exists; Vault only adds study access",
                    loc,
                    warn=True,
                )
        if any(d.severity == "error" for d in diags[n:]):
            continue
        rows.append(
            VaultUser(
                env if has_env else "",
                c["Last Name"],
                c["First Name"],
                user,
                c["Study Status"],
                c["Security Profile"],
                c["Study Role"],
                c["Company"],
                c["Email"],
                c["Timezone"],
                site_access,
                country_access,
                c["Title"],
                c["Language"],
                c["Locale"],
                c["Security Policy"],
                c.get(LAST_LOGIN, ""),
                line=rec.line,
                file=file,
            )
        )
    return Parsed(tuple(rows), tuple(diags))


def write_vault_users(rows: Iterable[VaultUser], *, last_login: bool = False) -> bytes:
    """The import file (or, with `last_login`, Vault's export shape). A site or country name holding a comma
    cannot be written in a comma-separated cell, so it is refused rather than silently split."""
    rows = list(rows)
    for r in rows:
        for name in r.site_access + r.country_access:
            if "," in name or name != name.strip() or not name:
                raise ValueError(f"{r.user_name}: site/country {name!r} cannot be listed in a comma-separated cell")
    header = COLUMNS + ((LAST_LOGIN,) if last_login else ())
    return write_table(
        header,
        (r.cells() + ([r.last_login] if last_login else []) for r in rows),
        quote=quote_minimal,
        newline=NEWLINE,
        final_newline=True,
    )
