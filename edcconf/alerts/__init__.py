"""Compliance alerts (seed 004, the Security Access Groups module's project status actions).

For each person whose applied rights in a study exceed their group's current ceiling (the compliance
reports, expired people left out as the module leaves them out), `compliance alert` renders:
- to the person: an alert, or a reminder when an earlier alert about them and that study was sent;
- to the study's User Rights holders (everyone whose applied grant there has `user_rights: full`): one
  alert or reminder listing every such person of the study;
- with `--expire`: the notices before expiry, to the person and to the holders, with the date their
  access would end; the command then prints the declaration to change (the grant's `expires:`). The
  expiry itself is a planned change reviewed and applied like any other, never a side effect here.

Nobody is told twice about the same person and study within the reminder interval (the environment's
`alerts.reminder_interval_days`, default 7), read from the alert log. Messages go by SMTP when a server
is configured (edcconf/mail.py), and are written as .eml files under `.edcconf/alerts/<env>/` otherwise;
every one is recorded in the alert log (alerts/log.py).
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ..fs import refuse_leaving, relative_name, write_atomically
from ..mail import SmtpSettings, make_mail, send_all
from ..model import ALL, Model
from ..state import StateRecord
from .log import alerts_folder, last_told, read_log, write_log
from .templates import EXPIRATION_KINDS, QUALIFICATION_KINDS, Templates

DEFAULT_INTERVAL_DAYS = 7
DEFAULT_EXPIRATION_DAYS = 14


@dataclass(frozen=True)
class Alert:
    kind: str
    study: str
    about: tuple[str, ...]  # the non-compliant people it is about
    to: str  # recipient's username
    email: str | None
    subject: str
    body: str
    expiration_date: str | None = None


@dataclass
class AlertRun:
    environment: str
    as_of: date
    interval_days: int
    alerts: list[Alert] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {user, study, last, next}: told within the interval
    expire: list[dict] = field(default_factory=list)  # the declarations to change, for --expire
    warnings: list[str] = field(default_factory=list)


def _lines(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _rights_text(rights: Iterable[Mapping]) -> str:
    return _lines(f"{r['right']}: {r['granted']} (allowed: {r['allowed']})" for r in rights)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def placeholder_values(
    kind: str,
    study_id: str,
    title: str,
    environment: str,
    recipient: Mapping,
    users: Sequence[Mapping],
    expiration_date: str | None,
) -> dict:
    """What a template sees: `sag` (the module's placeholders, by name) and plain variables for Jinja."""
    sag = {"sag-project-title": title}
    if kind in EXPIRATION_KINDS:
        sag["sag-expiration-date"] = expiration_date or ""
    if kind.startswith("user_"):
        u = users[0]
        sag.update(
            {
                "sag-user": u["username"],
                "sag-user-fullname": u["name"],
                "sag-user-email": u["email"] or "",
                "sag-user-sag": u["group"],
                "sag-rights": _rights_text(u["rights"]),
            }
        )
    else:
        sag.update(
            {
                "sag-users": _lines(u["username"] for u in users),
                "sag-user-fullnames": _lines(u["name"] for u in users),
                "sag-user-emails": _lines(u["email"] or "(no e-mail)" for u in users),
                "sag-user-sags": _lines(u["group"] for u in users),
                "sag-users-table": _table(
                    ["Username", "Name", "E-mail", "Group"],
                    [[u["username"], u["name"], u["email"] or "", u["group"]] for u in users],
                ),
                "sag-users-table-full": _table(
                    ["Username", "Name", "E-mail", "Group", "Non-compliant rights"],
                    [
                        [
                            u["username"],
                            u["name"],
                            u["email"] or "",
                            u["group"],
                            "; ".join(f"{r['right']} {r['granted']} (allowed {r['allowed']})" for r in u["rights"]),
                        ]
                        for u in users
                    ],
                ),
            }
        )
    return {
        "sag": sag,
        "recipient": dict(recipient),
        "study": study_id,
        "title": title,
        "environment": environment,
        "users": [dict(u) for u in users],
        "expiration_date": expiration_date,
    }


def _person(model: Model, applied: StateRecord, username: str) -> dict:
    p = model.people.get(username)
    if p is not None:
        return {"username": username, "name": p.name, "email": p.email, "group": p.group}
    acc = applied.effective.get("accounts", {}).get(username, {})
    return {
        "username": username,
        "name": acc.get("name") or username,
        "email": acc.get("email"),
        "group": acc.get("group") or "no-rights",
    }


def rights_holders(model: Model, applied: StateRecord, study: str, as_of: date) -> list[str]:
    """Who holds User Rights (`user_rights: full`) in the study as applied, and may use it today."""
    eff = applied.effective
    roles = eff.get("roles", {})
    out = set()
    for grant in eff.get("grants", {}).values():
        if grant.get("study") != study:
            continue
        if roles.get(grant.get("role_ref") or "", {}).get("rights", {}).get("user_rights") != "full":
            continue
        person = model.people.get(grant["user"])
        if person is None or person.status != "active" or person.expired(as_of):
            continue
        if grant.get("expires") and grant["expires"] < as_of.isoformat():
            continue
        out.add(grant["user"])
    return sorted(out)


def compose(
    root: Path,
    model: Model,
    applied: StateRecord,
    pairs: list[dict],
    templates: Templates,
    as_of: date,
    settings: Mapping,
    expire: bool = False,
    expiration_date: date | None = None,
) -> AlertRun:
    """The alerts to send now for the non-compliant, non-expired pairs given (compliance_reports rows)."""
    env = applied.environment
    interval = int(settings.get("reminder_interval_days", DEFAULT_INTERVAL_DAYS))
    run = AlertRun(env, as_of, interval)
    log = [e for e in read_log(root, env) if e.get("kind") not in QUALIFICATION_KINDS]  # (alerts.qualifications)
    told = last_told(log)
    expired_told = last_told(e for e in log if e.get("kind") in EXPIRATION_KINDS)
    if expire and expiration_date is None:
        expiration_date = as_of + timedelta(days=int(settings.get("expiration_notice_days", DEFAULT_EXPIRATION_DAYS)))
    until = expiration_date.isoformat() if expire and expiration_date else None
    studies = applied.effective.get("studies", {})
    by_study: dict[str, list[tuple[dict, bool]]] = {}  # study -> [(pair, told before)]
    for pair in pairs:
        key = (pair["user"], pair["study"])
        last = (expired_told if expire else told).get(key)
        if last is not None and (as_of - last).days < interval:
            run.skipped.append(
                {
                    "user": pair["user"],
                    "study": pair["study"],
                    "last": last.isoformat(),
                    "next": (last + timedelta(days=interval)).isoformat(),
                }
            )
            continue
        by_study.setdefault(pair["study"], []).append((pair, key in told))
    for study_id, rows in sorted(by_study.items()):
        title = studies.get(study_id, {}).get("name") or study_id
        users = []
        for pair, before in rows:
            person = {**_person(model, applied, pair["user"]), "group": pair["group"], "rights": pair["non_compliant"]}
            users.append(person)
            kind = "user_expiration" if expire else "user_reminder" if before else "user_alert"
            subject, body = templates.render(
                kind, placeholder_values(kind, study_id, title, env, person, [person], until)
            )
            run.alerts.append(
                Alert(kind, study_id, (pair["user"],), pair["user"], person["email"], subject, body, until)
            )
            if until is not None:  # set exactly when expiring
                run.expire.extend(_expiry_edits(model, env, study_id, pair["user"], until))
        holders = rights_holders(model, applied, study_id, as_of)
        if not holders:
            run.warnings.append(
                f"nobody holds User Rights in {study_id} in {env}: no User Rights holder was told about "
                f"{', '.join(u['username'] for u in users)}"
            )
        kind = (
            "rights_holders_expiration"
            if expire
            else "rights_holders_reminder"
            if all(before for _, before in rows)
            else "rights_holders_alert"
        )
        about = tuple(u["username"] for u in users)
        for holder in holders:
            recipient = _person(model, applied, holder)
            subject, body = templates.render(
                kind, placeholder_values(kind, study_id, title, env, recipient, users, until)
            )
            run.alerts.append(Alert(kind, study_id, about, holder, recipient["email"], subject, body, until))
    return run


def _expiry_edits(model: Model, env: str, study_id: str, user: str, until: str) -> list[dict]:
    """Where to write `expires: <date>`: each declared grant of the person in the study and environment."""
    study = model.studies.get(study_id)
    out = []
    for grant in study.access if study else ():
        if grant.user != user or (grant.environments != ALL and env not in grant.environments):
            continue
        current = grant.expires.isoformat() if grant.expires else None
        out.append(
            {
                "user": user,
                "study": study_id,
                "role": grant.role,
                "source": str(grant.loc),
                "expires": until,
                "current": current,
                "edit": f"expires: {until}" if current is None or current > until else None,
            }
        )
    return out


def deliver(root: Path, run: AlertRun, smtp: SmtpSettings | None, dry_run: bool = False) -> list[dict]:
    """Send (SMTP configured) or write (.eml files) every alert and record each in the alert log.
    Returns the new log entries. An alert SMTP could not take is written as a file and logged as not
    delivered (so the next run tries again); the error is in its entry."""
    env = run.environment
    log = read_log(root, env)
    first_id = max((e.get("id", 0) for e in log if isinstance(e.get("id"), int)), default=0) + 1
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entries = []
    mails = []
    for n, alert in enumerate(run.alerts):
        sender = smtp.sender if smtp else "edcconf@localhost"
        mail = make_mail(sender, alert.email or alert.to, alert.subject, alert.body)
        mails.append(mail)
        entries.append(
            {
                "id": first_id + n,
                "time": now,
                "date": run.as_of.isoformat(),
                "environment": env,
                "kind": alert.kind,
                "study": alert.study,
                "about": list(alert.about),
                "to": alert.to,
                "email": alert.email,
                "subject": alert.subject,
                "expiration_date": alert.expiration_date,
                "delivery": "smtp" if smtp else "file",
                "delivered": False,
                "file": None,
            }
        )
    if dry_run or not entries:
        return entries
    sent: set[int] = set()
    if smtp is not None:

        def sendable():
            for i, (entry, mail) in enumerate(zip(entries, mails)):
                if entry["email"]:
                    yield i, mail
                else:
                    entry["error"] = f"no e-mail address for {entry['to']}"

        pending = list(sendable())
        try:
            for sent_mail in send_all(smtp, (m for _, m in pending)):
                sent.add(next(i for i, m in pending if m is sent_mail))
        except (OSError, smtplib.SMTPException) as exc:
            for i, _ in pending:
                if i not in sent:
                    entries[i]["error"] = f"not sent through {smtp.describe()}: {exc}"
                    run.warnings.append(
                        f"alert {entries[i]['id']} to {entries[i]['to']} was not sent through "
                        f"{smtp.describe()} ({exc}); it is kept as a file and will be sent again"
                    )
        for i in sent:
            entries[i]["delivered"] = True
    folder = refuse_leaving(root, alerts_folder(root, env) / "mail", "write alert e-mails")

    for i, (entry, mail) in enumerate(zip(entries, mails)):
        if i in sent:
            continue
        path = folder / f"{entry['id']:05d}-{entry['kind']}-{entry['study']}-{entry['to']}.eml"
        write_atomically(refuse_leaving(root, path, "write alert e-mails"), bytes(mail), durable=False)
        entry["file"] = relative_name(root, path)
        if smtp is None:
            entry["delivered"] = True  # written for an administrator to send: it counts as told
    write_log(root, env, log + entries)
    return entries
