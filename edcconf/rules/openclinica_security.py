"""OpenClinica 4 account security (source document 001, "Invite Users", "Using Multifactor Authentication").

What 001 fixes, and where edcconf declares it:

- Passwords: at least 8 characters; at least three of lower case, upper case, digits and special
  characters (!@#$%^&*) (001's "Inviting Users" page asks for one of each, i.e. all four); not the
  previous password; not one of the 10,000 most common passwords; nothing of the user's personal data
  (first name, last name, username, e-mail). 001 names no expiry. These hold for every account of the
  OpenClinica domain, whatever the environment (accounts span Test and Production), so they are declared
  once, in `openclinica_domain: {password: ...}`.
- Multi-factor authentication is enabled for a whole OpenClinica domain by OpenClinica Customer Service,
  never for one study, site, user or environment: `openclinica_domain: {mfa_required: true}`.
- Lock-out after ten failed logins from one IP address and log-out after four hours of inactivity:
  declared per environment (`environment.security`: `lockout_failed_logins`, `inactivity_timeout_hours`).

OpenClinica's own values are the loosest allowed: a domain or an environment may be declared stricter
(longer passwords, all four character classes, a longer history, an expiry, fewer failed logins, a shorter
timeout), as agreed with OpenClinica, never looser, because OpenClinica would not honour it. edcconf has no
way to set these in OpenClinica (it has no API for them): the declaration is the reviewed record of what the
domain is configured to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from ..diagnostics import Diagnostic, error
from ..model import Environment, OpenClinicaDomain
from .book import rule

FAMILY = "openclinica_security"

ENVIRONMENT_SECURITY = rule(
    "environment-security",
    family=FAMILY,
    source="001",
    kind="error",
    summary="an environment's `security:` stays within OpenClinica's limits",
    text=(
        "an environment's `security:` stays within OpenClinica's limits: `lockout_failed_logins` ≤ 10 "
        "(accounts lock after ten failed logins from one IP address), `inactivity_timeout_hours` ≤ 4 "
        "(log-out after four hours of inactivity); stricter is allowed ([account "
        "security](#openclinica-account-security))"
    ),
    example=(
        "security.lockout_failed_logins is 12 in staging; it must be at most 10 (accounts lock after ten "
        "failed logins from one IP address, 001)"
    ),
)

OPENCLINICA_PASSWORD = rule(
    "openclinica-password",
    family=FAMILY,
    source="001",
    kind="error",
    summary="the password rules of `openclinica_domain:` are no looser than OpenClinica's",
    text=(
        "the password rules of `openclinica_domain:` are no looser than OpenClinica's: `min_length` ≥ 8, "
        "`character_classes` 3 or 4, `history` ≥ 1, `reject_common` and `reject_personal_data` true, "
        "`expires_days` ≥ 1 or null (never) ([account security](#openclinica-account-security))"
    ),
    example=(
        "openclinica_domain.password.min_length is 6; it must be at least 8 (OpenClinica requires "
        "passwords of at least 8 characters, 001)"
    ),
)

SETTING_MOVED = rule(
    "setting-moved",
    family=FAMILY,
    source="001",
    kind="error",
    summary="an environment's `security:` no longer holds `mfa`, `mfa_required` or `password_min_length`",
    text=(
        "an environment's `security:` no longer holds `mfa`, `mfa_required` or `password_min_length`: MFA "
        "and the password rules are settings of the whole OpenClinica domain (`openclinica_domain:`); the "
        "message names where each moved"
    ),
    example=(
        "security.mfa_required is no longer an environment setting: MFA is enabled for a whole "
        "OpenClinica domain, never for one environment, study, site or user (001); declare it once as "
        "openclinica_domain.mfa_required in any file (...)"
    ),
)


# OpenClinica's own values (001): what an absent key means, and the loosest a declaration may be.
PASSWORD_DEFAULTS: Mapping[str, object] = {
    "min_length": 8,
    "character_classes": 3,
    "history": 1,
    "reject_common": True,
    "reject_personal_data": True,
    "expires_days": None,
}
CHARACTER_CLASSES = (
    "lower case letters (a-z)",
    "upper case letters (A-Z)",
    "numbers (0-9)",
    "special characters (!@#$%^&*)",
)

# bound, OpenClinica's value, why (001)
_PASSWORD_LIMITS = {
    "min_length": ("at least", 8, "OpenClinica requires passwords of at least 8 characters"),
    "character_classes": (
        "at least",
        3,
        "OpenClinica requires at least three of lower case, upper case, numbers and special characters",
    ),
    "history": ("at least", 1, "OpenClinica refuses the previous password"),
}
_PASSWORD_ALWAYS = {
    "reject_common": "OpenClinica always refuses the 10,000 most common passwords",
    "reject_personal_data": "OpenClinica always refuses a password containing the user's name, username or e-mail",
}
ENVIRONMENT_LIMITS = {
    "lockout_failed_logins": ("at most", 10, "accounts lock after ten failed logins from one IP address"),
    "inactivity_timeout_hours": ("at most", 4, "users are logged out after four hours of inactivity"),
}
# settings that used to be declared per environment, and where they are declared now
MOVED = {
    "mfa": "openclinica_domain.mfa_required",
    "mfa_required": "openclinica_domain.mfa_required",
    "password_min_length": "openclinica_domain.password.min_length",
}


def moved_message(key: str) -> str:
    """The message for an environment's `security.<key>` that now belongs to the OpenClinica domain."""
    why = (
        "MFA is enabled for a whole OpenClinica domain, never for one environment, study, site or user"
        if key.startswith("mfa")
        else "password rules hold for every account of the OpenClinica domain, "
        "and an account spans all its environments"
    )
    return (
        f"security.{key} is no longer an environment setting: {why} (001); declare it once as "
        f"{MOVED[key]} in any file (e.g. environments/openclinica.yaml: "
        f"`openclinica_domain: {_example(key)}`) and remove it from every environment"
    )


def _example(key: str) -> str:
    return "{mfa_required: true}" if key.startswith("mfa") else "{password: {min_length: 12}}"


def effective_password(domain: OpenClinicaDomain | None) -> dict[str, object]:
    """The domain's password rules with OpenClinica's values where none is declared."""
    return {**PASSWORD_DEFAULTS, **(dict(domain.password) if domain is not None else {})}


def check_domain(domain: OpenClinicaDomain | None) -> list[Diagnostic]:
    if domain is None:
        return []
    out: list[Diagnostic] = []
    for key, value in domain.password.items():
        loc = domain.locs.get(f"password.{key}", domain.loc)
        where = f"openclinica_domain.password.{key}"
        if key in _PASSWORD_LIMITS:
            bound, limit, why = _PASSWORD_LIMITS[key]
            number = cast(int, value)  # the schema allows only integers here
            if number < limit:
                out.append(
                    error(
                        OPENCLINICA_PASSWORD.code, f"{where} is {value}; it must be {bound} {limit} ({why}, 001)", loc
                    )
                )
            elif key == "character_classes" and number > len(CHARACTER_CLASSES):
                out.append(
                    error(
                        OPENCLINICA_PASSWORD.code,
                        f"{where} is {value}; there are only "
                        f"{len(CHARACTER_CLASSES)} classes ({', '.join(CHARACTER_CLASSES)}): write 3 or 4",
                        loc,
                    )
                )
        elif key in _PASSWORD_ALWAYS and value is not True:
            out.append(
                error(
                    OPENCLINICA_PASSWORD.code,
                    f"{where} is {value}; {_PASSWORD_ALWAYS[key]} (001): write true or leave it out",
                    loc,
                )
            )
        elif key == "expires_days" and value is not None and cast(int, value) < 1:
            out.append(
                error(
                    OPENCLINICA_PASSWORD.code,
                    f"{where} is {value}; a password expires after at least "
                    "1 day, or never (null, OpenClinica's default: 001 names no expiry)",
                    loc,
                )
            )
    return out


def check_environment(env: Environment) -> list[Diagnostic]:
    out = []
    for key, (bound, limit, why) in ENVIRONMENT_LIMITS.items():
        value = env.security.get(key)
        if value is None:
            continue
        if cast(float, value) > limit:
            out.append(
                error(
                    ENVIRONMENT_SECURITY.code,
                    f"security.{key} is {value:g} in {env.name}; it must be {bound} {limit:g} ({why}, 001)",
                    env.loc,
                )
            )
    return out
