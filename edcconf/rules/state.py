"""Refusals of the state, its lock and the audit log."""

from __future__ import annotations

from .book import rule

FAMILY = "state"

STALE_STATE = rule(
    "stale-state",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`state push` of a file pulled at an older serial than the state now has",
    text=(
        "`state push` of a file pulled at an older serial than the state now has (pull again, redo the "
        "edit); `state push` of another lineage is `state-lineage`"
    ),
)

STATE_IN_USE = rule(
    "state-in-use",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`state rm` of a role version that recorded grants still use",
    text="`state rm` of a role version that recorded grants still use (remove those grants first)",
)

NOT_IN_STATE = rule(
    "not-in-state",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`state show` names an address the environment's applied state does not hold",
    text=("`state show` names an address the environment's applied state does not hold (`state list` lists them)"),
)

NO_VERSION = rule(
    "no-version",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="`show --serial N` names a version that was never applied",
    text="`show --serial N` names a version that was never applied",
)

_STATE_READ_TEXT = (
    "the state could not be read, written, parsed, or locked; or another apply won the race; "
    '`state-invalid` also when a value was edited by hand to another type (`"serial": "2"`, a '
    "negative serial, a section or entry that is no object); `state-backend` also when the PostgreSQL "
    "connection string cannot be read as written (in a URL, a password's `%`, `@` or `/` not "
    "percent-encoded; in the key=value form, a value with spaces not quoted): no message ever quotes "
    "any part of it, and every database error has the password removed"
)

STATE_READ = rule(
    "state-read",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the state could not be read, written, parsed, or locked",
    text=_STATE_READ_TEXT,
)

STATE_WRITE = rule(
    "state-write",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the state could not be read, written, parsed, or locked",
    text=_STATE_READ_TEXT,
)

STATE_INVALID = rule(
    "state-invalid",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the state could not be read, written, parsed, or locked",
    text=_STATE_READ_TEXT,
)

STATE_CONFLICT = rule(
    "state-conflict",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the state could not be read, written, parsed, or locked",
    text=_STATE_READ_TEXT,
)

STATE_LOCKED = rule(
    "state-locked",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the state could not be read, written, parsed, or locked",
    text=_STATE_READ_TEXT,
)

STATE_BACKEND = rule(
    "state-backend",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the state could not be read, written, parsed, or locked",
    text=_STATE_READ_TEXT,
)

NO_LOCK = rule(
    "no-lock",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the state could not be read, written, parsed, or locked",
    text=_STATE_READ_TEXT,
)

STATE_LOCAL_UNSUPPORTED = rule(
    "state-local-unsupported",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the `local` state backend asked to take its lock on Windows",
    text=(
        "the `local` state backend asked to take its lock on Windows: its fencing needs POSIX `flock` "
        "(docs/install.md); keep the state in PostgreSQL or run under WSL. A plan still reads the state "
        "without the lock unless an interrupted apply left its journal"
    ),
)

_STATE_MISSING_TEXT = (
    "a state file is missing while its backup or history versions (or, on PostgreSQL, audit entries "
    "of applied versions) show the environment had one: edcconf never starts a new lineage over it, "
    "and names `edcconf state restore`; `state restore` refuses a version of another lineage without "
    "`--force`"
)

STATE_MISSING = rule(
    "state-missing",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="a state file is missing while its backup or history versions",
    text=_STATE_MISSING_TEXT,
)

STATE_LINEAGE = rule(
    "state-lineage",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="a state file is missing while its backup or history versions",
    text=_STATE_MISSING_TEXT,
)

LOCK_LOST = rule(
    "lock-lost",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the lock this command held was taken away with `force-unlock` while it ran",
    text=(
        "the lock this command held was taken away with `force-unlock` while it ran: it writes nothing "
        "more (state, audit log, journal, bulk files), and says which lock id and generation it held"
    ),
)

_AUDIT_READ_TEXT = (
    "the audit log could not be read or written, or a line of it is not an entry edcconf wrote "
    "(edited or damaged); a torn last line left by a kill is moved aside (`<env>.jsonl.torn`), never "
    "glued to the next entry"
)

AUDIT_READ = rule(
    "audit-read",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the audit log could not be read or written, or a line of it is not an entry edcconf wrote",
    text=_AUDIT_READ_TEXT,
)

AUDIT_WRITE = rule(
    "audit-write",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the audit log could not be read or written, or a line of it is not an entry edcconf wrote",
    text=_AUDIT_READ_TEXT,
)

AUDIT_INVALID = rule(
    "audit-invalid",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the audit log could not be read or written, or a line of it is not an entry edcconf wrote",
    text=_AUDIT_READ_TEXT,
)

FILE_SYSTEM = rule(
    "file-system",
    family=FAMILY,
    source="edcconf",
    kind="refusal",
    summary="the file system refused a write or a lock",
    text=(
        "the file system refused a write or a lock (a full disk, a read-only checkout, no permission, a "
        "directory where the lock file belongs): the path, the system's reason and what to do. `plan`, "
        "`drift` and `show` only read: without the lock they go on, unless an interrupted apply left a "
        "journal to record"
    ),
)
