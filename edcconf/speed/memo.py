"""Exact-input memo for `plan`: the same inputs give the same plan, so a plan is stored and answered again.

A plan is a function of the configuration's bytes (the sources digest), the applied state (its bytes:
serial, lineage and effective state), the as-of date, the refresh setting and the code (and the Python
that runs it). When all of them are unchanged, `plan` answers from `.edcconf/cache/plans/` instead of
loading, validating and resolving the whole organisation again. What is not memoised:

- a plan whose environment has a target that reads live access on refresh (redcap): live access is
  an input that no digest here covers;
- a plan against a state that is not a local file (postgres), or while an apply's journal is waiting
  to be recovered (the full path recovers it first);
- a plan of more than planning.MEMO_MAX_CHANGES changes (a first rollout: large, rarely planned twice);
- anything that marshal cannot store exactly (the plan is then simply made again next time).

Entries are plain data (marshal: type-exact, so a memoised plan equals the fresh one), written
atomically, never trusted across code versions (every file of the package is in the key), safe to
delete at any time; EDCCONF_NO_CACHE=1 bypasses them. A damaged entry is a miss.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diagnostics import UserError
from ..fs import file_identity, known_by_identity, write_atomically
from ..plan.model import Plan
from ..state.local import LocalBackend
from .codec import plan_from_data, plan_to_data
from .file_cache import cache_folder, code_digest
from .spool import read_entry, spool

if TYPE_CHECKING:
    from ..plan.model import PlanForReview

MEMO_VERSION = 1
KEEP_ENTRIES = 32  # plans kept (most recently written); older ones are removed


@lru_cache(maxsize=1)
def package_digest() -> str:
    """Every file of the installed package (code, catalogs) and the schemas: the code version."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(code_digest().encode())
    for path in sorted(
        p
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".yaml", ".yml", ".json")
    ):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _state_paths(root: Path, env: str) -> tuple[Path, Path]:
    backend = LocalBackend(root, env)
    return backend.path, backend.dir / f"{env}.journal"


def state_signature(root: Path, env: str) -> tuple[Any, ...]:
    """What changes whenever the state file is replaced (every write is a new file renamed into place,
    so a new inode) or a journal appears: taken before state_digest, compared after planning, it tells
    that the digest still holds without reading the file again."""
    path, journal = _state_paths(root, env)
    try:
        st = path.stat()
        found = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        found = None
    return found, journal.exists()


def state_digest(root: Path, env: str) -> str | None:
    """A digest of the local state file's bytes ("absent" when there is none yet); None when a journal
    waits to be recovered, the file cannot be read, or it is missing though the environment had a state
    (no memo then: reading the state reports it). Hashing a state of 200,000 grants (83 MB) cost a
    fifth of a warm plan, so the digest of the file as last hashed is kept with its identity (device,
    inode, size, modification and change times: every write of a state is a new file renamed into place,
    and the change time cannot be set back by hand as the modification time can) and used
    while the file is still that one and was already old when hashed (as git trusts its index)."""
    path, journal = _state_paths(root, env)
    if journal.exists():
        return None
    try:
        st = path.stat()
        identity = file_identity(st)
        known = _known_digest(root, env)
        if known is not None and known[0] == identity:
            return known[1]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        backup, versions = LocalBackend(root, env).lineage_evidence()
        return "absent" if backup is None and not versions else None
    except OSError:
        return None
    if known_by_identity(path, st):
        _remember_digest(root, env, identity, digest)
    return digest


def _digest_entry(root: Path, env: str) -> Path:
    return cache_folder(root, "state-digests", f"{hashlib.sha256(env.encode()).hexdigest()[:16]}.json")


def _known_digest(root: Path, env: str) -> tuple[list[int], str] | None:
    try:
        data = json.loads(_digest_entry(root, env).read_bytes())
        identity, digest = data["identity"], data["sha256"]
    except (OSError, ValueError, TypeError, KeyError):
        return None  # none yet, or damaged: hashed again
    if not (isinstance(identity, list) and isinstance(digest, str) and len(digest) == 64):
        return None
    return identity, digest


def _remember_digest(root: Path, env: str, identity: list[int], digest: str) -> None:
    try:
        write_atomically(
            _digest_entry(root, env), json.dumps({"identity": identity, "sha256": digest}).encode(), durable=False
        )
    except UserError:
        pass  # the cache is a saving, never a reason to fail


def scanned(root: Path) -> list[tuple[str, str]] | None:
    """source.scan with the digests of the files it hashed before (`.edcconf/cache/scan.marshal`): a
    configuration file whose identity is unchanged is not read again (4,000 files at N = 2,000 with an
    access review campaign: a fifth of a second of every plan)."""
    from ..source import scan

    entry = cache_folder(root, "scan.marshal")
    try:
        stored = marshal.loads(entry.read_bytes())
        known = {rel: v for rel, v in stored.items() if _scan_entry(rel, v)}
    except (OSError, ValueError, EOFError, TypeError, AttributeError):
        known = {}  # none yet, or damaged: every file is hashed again
    before = dict(known)
    files = scan(root, known)
    if files is not None:
        present = {rel for rel, _ in files}
        known = {rel: v for rel, v in known.items() if rel in present}  # deleted files are forgotten
        if known != before:
            try:
                write_atomically(entry, marshal.dumps(known), durable=False)
            except UserError:
                pass  # the cache is a saving, never a reason to fail
    return files


def _scan_entry(rel: object, value: object) -> bool:
    """The shape scan() stores: path -> (identity of five integers, sha256 hex)."""
    return (
        isinstance(rel, str)
        and isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], list)
        and len(value[0]) == 5
        and all(isinstance(n, int) for n in value[0])
        and isinstance(value[1], str)
        and len(value[1]) == 64
    )


@dataclass(frozen=True)
class MemoPlanned:
    """What `plan` prints and saves, answered from the memo; systems and sources load on first use."""

    plan: Plan
    config_digest: str
    _extra: Callable[[], tuple[Mapping[str, str], Mapping[str, str]]]

    @cached_property
    def _systems_sources(self) -> tuple[Mapping[str, str], Mapping[str, str]]:
        return self._extra()

    @property
    def systems(self) -> Mapping[str, str]:
        return self._systems_sources[0]

    @property
    def sources(self) -> Mapping[str, str]:
        return self._systems_sources[1]


class PlanMemo:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = cache_folder(self.root, "plans")  # refused when it leads out of the configuration

    def key(self, env: str, as_of: date, refresh: bool, config_digest: str) -> str:
        parts = (
            str(MEMO_VERSION),
            sys.version,
            str(marshal.version),
            package_digest(),
            env,
            as_of.isoformat(),
            "refresh" if refresh else "no-refresh",
            config_digest,
        )
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def get(self, key: str, state: str) -> MemoPlanned | None:
        entry = read_entry(self.dir / key)
        if entry is None:  # absent or damaged: a miss
            return None
        try:
            version, stored_state, config_digest, plan_data, extra_digest = entry
            if version != MEMO_VERSION or stored_state != state:
                return None
            plan = plan_from_data(plan_data)
        except (TypeError, ValueError):
            return None
        return MemoPlanned(plan, config_digest, lambda: self._extra(key, extra_digest))

    def _extra(self, key: str, digest: str) -> tuple[Mapping[str, str], Mapping[str, str]]:
        try:
            raw = (self.dir / f"{key}.extra").read_bytes()
            if hashlib.sha256(raw).hexdigest() != digest:
                raise ValueError("memo entry does not match")
            systems, sources = marshal.loads(raw)
            return systems, sources
        except (OSError, ValueError, EOFError, TypeError):
            raise LookupError("memo entry damaged") from None

    def put(self, key: str, state: str, planned: PlanForReview) -> None:
        """Store a plan (and the systems and sources a saved plan needs); a failure is only a slower next run."""
        try:
            extra = marshal.dumps((dict(planned.systems), dict(planned.sources)))
            entry = marshal.dumps(
                (
                    MEMO_VERSION,
                    state,
                    planned.config_digest,
                    plan_to_data(planned.plan),
                    hashlib.sha256(extra).hexdigest(),
                )
            )
            if plan_from_data(marshal.loads(entry)[3]) != planned.plan:
                return  # not stored exactly (e.g. a value marshal turns into another type): never memoise
            spool.write(self.dir / f"{key}.extra", extra)  # in this order, by the spool's thread
            spool.write(self.dir / key, entry)  # the entry is the commit point
            spool.call(self._prune)
        except (ValueError, TypeError):
            pass

    def _prune(self) -> None:
        try:
            entries = sorted((p for p in self.dir.iterdir() if len(p.name) == 64), key=lambda p: p.stat().st_mtime)
            for old in entries[:-KEEP_ENTRIES]:
                old.unlink(missing_ok=True)
                old.with_name(old.name + ".extra").unlink(missing_ok=True)
        except OSError:
            pass
