"""Notifications after an apply: tell the people concerned, from editable jinja2 templates.

Messages are written as files under `build/<env>/notifications/<serial>/` by default; when
EDCCONF_SMTP_HOST is set they are also sent (EDCCONF_SMTP_PORT, default 25; EDCCONF_SMTP_FROM; edcconf/mail.py).
Server settings come from the environment, never from YAML. A message that cannot be sent is reported and
kept as a file: the apply itself has already happened and is never undone by a mail problem.
"""

from __future__ import annotations

import os
import shutil
import smtplib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..fs import refuse_leaving, refuse_leaving_folder, write_atomically
from ..mail import make_mail, send_all, smtp_settings
from ..plan import Change
from ..views.text_templates import sandboxed_text_templates


@dataclass(frozen=True)
class Message:
    username: str
    email: str | None
    kind: str
    subject: str
    body: str


class _InsideLoader(FileSystemLoader):
    """The configuration's own templates (`templates/notifications/`), never through a link to outside it."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(Path(root) / "templates" / "notifications"))
        self.root = Path(root)

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        refuse_leaving(self.root, Path(filename), "read a notification template")
        return source, filename, uptodate


def _templates(root: Path) -> ImmutableSandboxedEnvironment:
    return sandboxed_text_templates(
        ChoiceLoader([_InsideLoader(root), PackageLoader("edcconf.views", "templates/notifications")])
    )


def refuse_links_out(root: Path, environment: str, serial: int) -> None:
    """Before an apply changes anything: unsafe-path when its notifications would be written, or their
    templates read, through a symbolic link to outside the configuration directory."""
    refuse_leaving(root, notification_folder(root, environment, serial), "write notifications")
    refuse_leaving_folder(root, Path(root) / "templates" / "notifications", "read a notification template")


def _render(env: Environment, name: str, **values) -> tuple[str, str]:
    text = env.get_template(f"{name}.txt.j2").render(**values)
    first, _, rest = text.partition("\n")
    subject = first.removeprefix("Subject:").strip() if first.startswith("Subject:") else name.replace("_", " ")
    return subject, rest.lstrip("\n") if first.startswith("Subject:") else text


def _grant_lines(change: Change) -> tuple[list[str], list[str], str]:
    before, after = change.before or {}, change.after or {}
    if change.action == "create":
        added = [f"{f}: {lvl}" for f, lvl in after.get("forms", {}).items() if lvl != "none"]
        return added, [], f"granted role {after['role']}"
    if change.action == "revoke":
        return [], [f"{f}: {lvl}" for f, lvl in before.get("forms", {}).items() if lvl != "none"], "access removed"
    added = [d for d in change.details if "→" in d]
    return added, [], f"role {after.get('role')} changed"


def build_messages(
    root: Path,
    changes: Iterable[Change],
    accounts: Mapping[str, dict],
    environment: str,
    serial: int,
    approved_by: str,
    reason: str | None,
) -> Iterable[Message]:
    """The messages, rendered one at a time as they are iterated (a first apply tells every person of
    every form of every grant: all of those lines and bodies at once cost more than the apply)."""
    changes = list(changes)
    return _Messages(lambda: _messages(root, changes, accounts, environment, serial, approved_by, reason))


class _Messages:
    """Iterable more than once (files, then SMTP); each pass renders again and holds one message."""

    def __init__(self, make) -> None:
        self._make = make

    def __iter__(self) -> Iterator[Message]:
        return self._make()


def _messages(
    root: Path,
    changes: list[Change],
    accounts: Mapping[str, dict],
    environment: str,
    serial: int,
    approved_by: str,
    reason: str | None,
) -> Iterator[Message]:
    env = _templates(root)
    per_person: dict[str, list[Change]] = {}
    granted: dict[str, set[str]] = {}  # user -> studies this apply grants (for the external-account notice)
    for c in changes:
        if c.kind == "grant" and c.after:
            assert c.study is not None  # a grant change names its study
            granted.setdefault(c.after["user"], set()).add(c.study)
    for change in changes:
        if change.kind == "grant":
            per_person.setdefault((change.after or change.before)["user"], []).append(change)
        if change.kind == "account" and change.agreement_notify:  # 000 step 4: the agreement is recorded
            person = change.after
            for recipient in change.agreement_notify:
                who = accounts.get(recipient, {})
                subject, body = _render(
                    env,
                    "external_agreement",
                    recipient_fullname=who.get("name", recipient),
                    user=change.key,
                    user_fullname=person["name"],
                    user_email=person["email"],
                    organization=person.get("external") or "",
                    agreement_signed=person.get("agreement_signed"),
                    requested_by=person.get("requested_by"),
                    environment=environment,
                    approved_by=approved_by,
                    serial=serial,
                )
                # one file per recipient and external person: an administrator hears of every agreement
                yield Message(recipient, who.get("email"), f"external_agreement-{change.key}", subject, body)
        if change.kind == "account" and change.action == "create" and change.notify:
            person = change.after
            studies = sorted(granted.get(change.key, ()))
            for recipient in change.notify:
                who = accounts.get(recipient, {})
                subject, body = _render(
                    env,
                    "external_account",
                    recipient_fullname=who.get("name", recipient),
                    user=change.key,
                    user_fullname=person["name"],
                    user_email=person["email"],
                    organization=person.get("external") or "",
                    studies=studies,
                    environment=environment,
                    approved_by=approved_by,
                    serial=serial,
                )
                # one file per recipient and new account: a PI may hear of several in one apply
                yield Message(recipient, who.get("email"), f"external_account-{change.key}", subject, body)
    for user, grants in sorted(per_person.items()):
        items = []
        for change in grants:
            added, removed, summary = _grant_lines(change)
            items.append(
                {
                    "study": change.study,
                    "summary": summary,
                    "sites": (change.after or {}).get("sites", []),
                    "added": added,
                    "removed": removed,
                    "reason": change.reason,
                }
            )
        account = accounts.get(user, {})
        subject, body = _render(
            env,
            "access_changed",
            user=user,
            user_fullname=account.get("name", user),
            user_email=account.get("email"),
            environment=environment,
            changes=items,
            approved_by=approved_by,
            reason=reason,
            serial=serial,
        )
        yield Message(user, account.get("email"), "access_changed", subject, body)


def notification_folder(root: Path, environment: str, serial: int) -> Path:
    return Path(root) / "build" / environment / "notifications" / f"{serial:04d}"


def filling_folder(folder: Path, pid: int | None = None) -> Path:
    """Where the messages of folder are written before it exists (by process pid: this one by default)."""
    return folder.with_name(f".{folder.name}.{os.getpid() if pid is None else pid}.filling")


def message_file(m: Message) -> tuple[str, bytes]:
    return f"{m.username}-{m.kind}.txt", f"To: {m.email or m.username}\nSubject: {m.subject}\n\n{m.body}".encode()


def fill(
    directory: Path, folder: Path, messages: Iterable[Message], going_on: Callable[[], bool] = lambda: True
) -> list[str]:
    """Each message as a file of directory (new: "x", two messages never share a name); returns the
    paths they have once directory is renamed to folder. going_on() is asked now and then (a forked
    helper stops when its command is gone)."""
    written = []
    for i, m in enumerate(messages):
        if i % 256 == 0 and not going_on():
            raise InterruptedError("the command that asked for these messages is gone")
        name, data = message_file(m)
        with open(directory / name, "xb") as f:
            f.write(data)
        written.append(str(folder / name))
    return written


def _write_files(folder: Path, messages: Iterable[Message]) -> list[str]:
    """A new folder is filled beside it under a temporary name and renamed into place whole (a first
    apply writes a message per person: 20,000 files, and a temporary file and a rename each cost more than
    the rendering); an existing folder (an apply's serial used again after a state restore) gets each
    file atomically."""
    if folder.exists():
        written = []
        for m in messages:
            name, data = message_file(m)
            write_atomically(folder / name, data, durable=False)
            written.append(str(folder / name))
        return written
    filling = filling_folder(folder)
    shutil.rmtree(filling, ignore_errors=True)  # a killed run's leftover of this very name
    filling.mkdir(parents=True)
    try:
        written = fill(filling, folder, messages)
        os.rename(filling, folder)
    except BaseException:
        shutil.rmtree(filling, ignore_errors=True)
        raise
    return written


def _put_filled(filled: tuple[Path, list[str]], folder: Path) -> list[str] | None:
    """The filled folder renamed into place (its files), or None (removed) when the folder exists already
    or cannot be renamed: the messages are then written here."""
    if not folder.exists():
        try:
            os.rename(filled[0], folder)
            return filled[1]
        except OSError:
            pass
    shutil.rmtree(filled[0], ignore_errors=True)
    return None


def deliver(
    root: Path,
    messages: Iterable[Message],
    environment: str,
    serial: int,
    filled: tuple[Path, list[str]] | None = None,
) -> tuple[list[str], list[str]]:
    """Write every message as a file; send them when SMTP is configured. Returns (written, problems).
    filled: (a folder, the files written) holding exactly these messages already (rendered beside the
    apply by speed/notify_ahead.py): renamed into place when the folder is new, else written here."""
    folder = refuse_leaving(root, notification_folder(root, environment, serial), "write notifications")
    problems: list[str] = []
    written = _put_filled(filled, folder) if filled is not None else None
    if written is None:
        written = _write_files(folder, messages)
    settings = smtp_settings()  # notices: the server from the environment variables only, as before
    if settings and written:

        def mails():
            for m in messages:
                if not m.email:
                    problems.append(f"no e-mail address for {m.username}; kept as a file")
                    continue
                yield make_mail(settings.sender, m.email, m.subject, m.body)

        try:
            for _ in send_all(settings, mails()):
                pass
        except (OSError, smtplib.SMTPException) as exc:
            problems.append(
                f"notifications could not be sent through {settings.host}: {exc}; they are kept in {folder}"
            )
    return written, problems
