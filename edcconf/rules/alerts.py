"""The compliance alert templates and log of the REDCap Security Access Groups module (004)."""

from __future__ import annotations

from .book import rule

FAMILY = "alerts"

ALERT_PLACEHOLDER = rule(
    "alert-placeholder",
    family=FAMILY,
    source="004",
    kind="error",
    summary="every `[sag-...]` placeholder of an alert template is one of the module's",
    text=(
        "every `[sag-...]` placeholder of an alert template is one of the module's (`[sag-user]`, "
        "`[sag-user-fullname]`, `[sag-user-email]`, `[sag-user-sag]`, `[sag-rights]`, "
        "`[sag-project-title]`, `[sag-users]`, `[sag-user-fullnames]`, `[sag-user-emails]`, "
        "`[sag-user-sags]`, `[sag-users-table]`, `[sag-users-table-full]`, `[sag-expiration-date]`) and "
        "of the template's audience: the user's placeholders in the mails to the user, the lists and "
        "tables in the mails to User Rights holders, `[sag-expiration-date]` only in the notices before "
        "expiry; never left in a mail as written"
    ),
    example=(
        "templates/alerts/user_alert.txt.j2:3:6: error[alert-placeholder]: unknown placeholder [sag-usr]; "
        "did you mean [sag-user]? …"
    ),
)

ALERT_TEMPLATE = rule(
    "alert-template",
    family=FAMILY,
    source="004, docs/format.md",
    kind="error",
    summary="an alert template is UTF-8 Jinja2 that renders in the sandbox",
    text=(
        "an alert template is UTF-8 Jinja2 that renders in the sandbox (no access to Python internals, no "
        "undefined name), starts with `Subject: …`, and is named after one of the six alerts "
        "(`user_alert`, `user_reminder`, `rights_holders_alert`, `rights_holders_reminder`, "
        "`user_expiration`, `rights_holders_expiration`)"
    ),
    example=(
        "templates/alerts/user_alert.txt.j2:4: error[alert-template]: SecurityError: access to attribute "
        "'__class__' of 'str' object is unsafe."
    ),
)

ALERT_LOG_INVALID = rule(
    "alert-log-invalid",
    family=FAMILY,
    source="004",
    kind="error",
    summary="`.edcconf/alerts/<env>/log.json` is an alert log edcconf wrote",
    text=(
        "`.edcconf/alerts/<env>/log.json` is an alert log edcconf wrote (format version 1, a list of "
        "entries); it is what reminder intervals are read from, so a damaged one stops `compliance alert` "
        "rather than alerting everyone again"
    ),
    example=(
        ".edcconf/alerts/test/log.json is not an alert log (Expecting value: line 1 column 1 (char 0)); "
        "it may have been edited by hand"
    ),
)
