"""The alert log of an environment: every alert edcconf rendered, sent or wrote, in order (seed 004's
"alert log" tab). One JSON file, `.edcconf/alerts/<env>/log.json`, replaced atomically at each run (a
reader or a crash sees the old log or the new one, never half of one). Reminder intervals are read
from it: it is the memory of who was told what, when.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from ..diagnostics import UserError
from ..fs import refuse_leaving, relative_name, write_atomically

LOG_FORMAT_VERSION = 1


def alerts_folder(root: Path, environment: str) -> Path:
    return Path(root) / ".edcconf" / "alerts" / environment


def log_path(root: Path, environment: str) -> Path:
    return alerts_folder(root, environment) / "log.json"


def read_log(root: Path, environment: str) -> list[dict]:
    path = refuse_leaving(root, log_path(root, environment), "read the alert log")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(
            f"{relative_name(root, path)} is not an alert log ({exc}); it may have been edited by hand",
            code="alert-log-invalid",
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("format_version") != LOG_FORMAT_VERSION
        or not isinstance(data.get("alerts"), list)
        or not all(isinstance(a, dict) for a in data["alerts"])
    ):
        raise UserError(
            f"{relative_name(root, path)} is not an alert log of format version {LOG_FORMAT_VERSION}",
            code="alert-log-invalid",
        )
    return data["alerts"]


def write_log(root: Path, environment: str, entries: Iterable[dict]) -> None:
    path = refuse_leaving(root, log_path(root, environment), "write the alert log")
    doc = {"format_version": LOG_FORMAT_VERSION, "environment": environment, "alerts": list(entries)}
    write_atomically(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))


def last_told(entries: Iterable[dict]) -> dict[tuple[str, str], date]:
    """(user, study) -> the date of the latest alert about them that reached someone (sent, or written for
    an administrator to send); an alert that could not be sent does not count."""
    out: dict[tuple[str, str], date] = {}
    for e in entries:
        if not e.get("delivered"):
            continue
        try:
            day = date.fromisoformat(e["date"])
        except (KeyError, TypeError, ValueError):
            continue
        for user in e.get("about") or ():
            key = (user, e.get("study") or "")
            if key not in out or out[key] < day:
                out[key] = day
    return out
