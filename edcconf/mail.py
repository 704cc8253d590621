"""Sending e-mail: the one place edcconf talks SMTP (notices after an apply, compliance alerts).

Where the server is: the environment variables EDCCONF_SMTP_HOST, EDCCONF_SMTP_PORT, EDCCONF_SMTP_FROM and
EDCCONF_SMTP_STARTTLS win; otherwise what the configuration says (an environment's `alerts.smtp`:
host, port, from, starttls). Credentials come from EDCCONF_SMTP_USER and EDCCONF_SMTP_PASSWORD only: the
schema has no place for them, so a password never lands in a repository.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from .diagnostics import UserError

DEFAULT_FROM = "edcconf@localhost"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)  # read from the environment only

    def describe(self) -> str:
        return f"{self.host}:{self.port}"


def smtp_settings(configured: Mapping | None = None) -> SmtpSettings | None:
    """The SMTP server to use, or None when none is configured (then messages are written as files)."""
    configured = dict(configured or {})
    host = os.environ.get("EDCCONF_SMTP_HOST") or configured.get("host")
    if not host:
        return None
    port = os.environ.get("EDCCONF_SMTP_PORT") or configured.get("port") or 25
    try:
        port = int(port)
    except ValueError:
        raise UserError(f"EDCCONF_SMTP_PORT={port!r} is not a port number", code="usage") from None
    starttls_env = os.environ.get("EDCCONF_SMTP_STARTTLS")
    starttls = (starttls_env.lower() in ("1", "true", "yes")) if starttls_env else bool(configured.get("starttls"))
    return SmtpSettings(
        host=host,
        port=port,
        sender=os.environ.get("EDCCONF_SMTP_FROM") or configured.get("from") or DEFAULT_FROM,
        starttls=starttls,
        user=os.environ.get("EDCCONF_SMTP_USER") or None,
        password=os.environ.get("EDCCONF_SMTP_PASSWORD") or None,
    )


def make_mail(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    mail.set_content(body)
    return mail


def send_all(settings: SmtpSettings, mails: Iterable[EmailMessage]) -> Iterator[EmailMessage]:
    """Send each message over one connection, yielding each once the server accepted it. Raises OSError or
    smtplib.SMTPException when the server cannot be reached or refuses one: those already yielded were sent."""
    with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
        for mail in mails:
            smtp.send_message(mail)
            yield mail
