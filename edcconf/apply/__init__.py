"""Apply stage: providers carry out a plan change by change; the state records what succeeded.

The new state is the previous one with exactly the changes that succeeded folded in, so after a
provider failure the next plan shows only what is left. Every apply appends to the audit log, in the
same step as its version (backend.commit). Every write checks the lock's fencing token, so an apply
whose lock was forced open stops with lock-lost instead of writing over whoever holds it now.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..diagnostics import UserError
from ..fs import put_in_place, staged_outputs
from ..plan import Change, Plan
from ..plan.brakes import GUARDS_SECTION, applied_guards
from ..plan.saved import change_from_saved, change_to_saved
from ..providers import GROUP_FILE_SYSTEMS, Provider, ProviderError, Reach
from ..resolve.sections import RecordedState
from ..rules import plan as plan_rules
from ..state import LocalBackend, StateBackend, StateRecord, fold, next_record
from ..state.audit_lines import AuditStream
from ..state.locking import actor
from ..state.record import SECTION_OF, summarize
from . import finish as finishing
from .lanes import carry_out

log = logging.getLogger("edcconf.apply")


@dataclass(frozen=True)
class ApplyResult:
    record: StateRecord
    applied: tuple[Change, ...]
    failed: ProviderError | None
    written: tuple[str, ...]
    notices: tuple[str, ...] = ()  # problems worth telling that did not fail the apply (e.g. mail)
    failures: tuple[ProviderError, ...] = ()  # every failure, in plan order (failed is the first)


class ApplyInterrupted(KeyboardInterrupt):
    """Ctrl-C during an apply: what was done before it is recorded (state and audit log) in `result`."""

    def __init__(self, result: ApplyResult) -> None:
        super().__init__()
        self.result = result


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def execute(
    plan: Plan,
    previous: StateRecord,
    systems: Mapping[str, str],
    desired_sources: Mapping[str, str],
    providers: Mapping[str, Provider],
    backend: StateBackend,
    commit: str | None,
    reason: str | None = None,
    plan_digest: str | None = None,
    reach: Reach | None = None,
    guards: Mapping | None = None,
) -> ApplyResult:
    """Carry out the plan change by change; the journal holds each change once it really happened.
    Call under the environment's lock: every write checks that it is still held (lock-lost if not).
    reach: which systems each change concerns (providers.Reach); by default from the studies' systems, the
    state and the providers given. guards: the environment's guards as the configuration declares them
    (plan/brakes.declared_guards), recorded with the new state when it has none yet; a change of recorded
    guards is a planned change."""
    if reach is None:
        reach = Reach(plan.changes, previous.effective, systems, GROUP_FILE_SYSTEMS & set(providers))
    journal = backend.journal
    if journal.header() is not None:  # an interrupted apply's journal: record what became of it first
        recover(backend)
        current = backend.read()
        if (current.serial, current.lineage) != (previous.serial, previous.lineage):
            raise UserError(
                f"the state of {plan.environment} changed before this apply could start: the journal of "
                f"an interrupted apply was recorded (serial {previous.serial} → {current.serial}); plan "
                "again",
                code=plan_rules.STALE_PLAN.code,
            )
    apply_id = str(uuid.uuid4())
    journal.begin(
        {
            "id": apply_id,
            "base_serial": previous.serial,
            "lineage": previous.lineage,
            "environment": plan.environment,
            "plan_digest": plan_digest,
            "commit": commit,
            "actor": actor(),
            "reason": reason,
        }
    )
    done: list[Change] = []  # carried out and journaled
    deferred: list[Change] = []  # accepted by a provider that makes them real when it finishes
    outcome = carry_out(plan.changes, reach, providers, backend, journal, done, deferred, plan.environment)
    failures = outcome.failures
    applied = done + deferred
    effective = fold(previous.effective, applied)
    written: list[str] = []
    # made while the files are written elsewhere: the deferred changes' journal lines, the audit lines' text
    prepared = audit_ahead = None
    try:
        with backend.fenced():  # the files and their journal lines: a force-unlock cannot come in between
            with staged_outputs() as staged:  # written in full, not yet in place
                beside = finishing.start(providers, applied, effective)
                try:
                    if beside is not None:
                        if deferred:
                            prepared = journal.prepare(change_to_saved(c) for c in deferred)
                        audit_ahead = backend.prepare_audit(c.to_json() for c in applied)
                    found = beside.take(staged) if beside is not None else None
                finally:
                    if beside is not None:
                        beside.cancel()
                written.extend(found if found is not None else finishing.finish_here(providers, applied, effective))
            outputs = staged.manifest()
            # the changes and the files that carry them out, journaled as one batch (streamed: all of a
            # first apply), its size first, so that a kill that tears it leaves none of it (journaled_changes);
            # then the files are put in place (after a kill, by the next command, from the journal)
            if deferred or outputs:
                rest = () if prepared is not None else (change_to_saved(c) for c in deferred)
                journal.append(itertools.chain([{"outputs": outputs, "deferred": len(deferred)}], rest), prepared)
                prepared = None  # used up
            put_in_place(outputs)
        done = applied
    except ProviderError as exc:  # the bulk files were not written: those changes did not happen
        failures = failures or [exc]
        effective = fold(previous.effective, done)
    except BaseException:
        if audit_ahead is not None:
            audit_ahead.discard()
        raise
    finally:
        if prepared is not None:
            prepared.discard()
    if guards is not None and done and applied_guards(effective, plan.environment) is None:
        effective[GUARDS_SECTION] = {**effective[GUARDS_SECTION], plan.environment: dict(guards)}
    record = _next(previous, done, effective, {**previous.sources, **desired_sources}, commit, None) if done else None
    base = audit_base(plan.environment, commit, record or previous, reason, plan_digest, apply_id)
    tail = [outcome_entry(base, plan, done, failures, outcome.interrupted)]
    try:
        backend.commit(
            record,
            previous.serial,
            # the text made ahead is of every change: used only if every change happened
            audit_stream(base, (c.to_json() for c in done), tail, audit_ahead if done is applied else None),
            seal={"base": base, "tail": tail},
        )
    finally:
        if audit_ahead is not None:
            audit_ahead.discard()  # used up by the commit, unused, or left by its failure
    result = ApplyResult(
        record or previous, tuple(done), failures[0] if failures else None, tuple(written), failures=tuple(failures)
    )
    if outcome.interrupted:
        raise ApplyInterrupted(result)
    return result


def _next(
    previous: StateRecord,
    changes: list[Change],
    effective: RecordedState,
    sources: Mapping[str, str],
    commit: str | None,
    note: str | None,
    who: str | None = None,
) -> StateRecord:
    kept = {k: v for k, v in sources.items() if still_present(k, effective)}
    del sources  # the caller's merged sources: one copy of 200,000 entries less while the state is written
    return next_record(previous, effective, kept, commit, who or actor(), summarize(changes), note)


def recover(backend: StateBackend) -> StateRecord | None:
    """Record what became of an interrupted apply, from its journal. Call under the lock.

    - Its commit was sealed (local state): finish it (the missing audit entries, then the state).
    - Nothing was committed and the state is still the one it started from: fold its changes into a new
      version ("recovered N changes of an interrupted apply"), with audit entries.
    - Otherwise (it started from another state than the one there is now): the audit log says the
      journal was discarded, and what it held.
    In every case the journal is cleared only with an audit entry saying why. Returns the new state, or
    None when nothing new was committed."""
    found = backend.journal.read()
    if found is None:
        return None
    header, entries, seal = found
    entries, outputs, torn = journaled_changes(entries)
    try:
        current = backend.read()
    except UserError as exc:  # a missing state with history: only a commit that started from nothing explains it
        if exc.code != "state-missing" or header.get("base_serial"):
            raise
        current = backend.read(missing_ok=True)
    base_serial, lineage = header.get("base_serial") or 0, header.get("lineage")
    started_here = (current.serial, current.lineage) == (base_serial, lineage)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    note = {
        "actor": actor(),
        "time": now,
        "environment": header.get("environment") or backend.environment,
        "recovered_apply": header.get("id"),
        "base_serial": base_serial,
        "serial": current.serial,
        "lineage": current.lineage,
    }
    committed_here = (
        seal is not None
        and seal.get("serial") is not None
        and (current.serial, current.lineage) == (seal["serial"], seal["base"].get("lineage"))
    )
    lost = put_in_place(outputs, verify=True) if outputs and (started_here or committed_here) else []
    if lost:
        backend.append_audit(
            [
                {
                    **note,
                    "event": "outputs-lost",
                    "files": lost,
                    "note": "files of the interrupted apply were damaged before they were put in place "
                    "(a machine crash?); they were left as they were: write them again",
                }
            ]
        )
    if seal is not None and (started_here or committed_here):
        assert isinstance(backend, LocalBackend)  # only a file journal is sealed (PostgreSQL commits in one step)
        backend.finish_commit(
            header,
            seal,
            lambda: audit_stream(seal["base"], (change_from_saved(e).to_json() for e in entries), seal["tail"]),
            {
                **note,
                "event": "commit-completed",
                "note": "the apply was interrupted while committing; its commit was finished",
            },
        )
        return backend.read() if started_here and seal.get("serial") is not None else None
    if seal is None and started_here:
        changes = [change_from_saved(e) for e in entries]
        apply_id = header.get("id")
        # the journaled part of a torn batch: on record, not carried out (its files were never in place)
        left_out = {"not_carried_out": torn} if torn else {}
        if not changes:
            cleared = {
                **note,
                "event": "journal-cleared",
                "applied": 0,
                "apply_id": apply_id,
                **left_out,
                "note": "the interrupted apply had carried out no change",
            }
            backend.commit(None, current.serial, [cleared], seal={"base": note, "tail": [cleared]})
            return None
        record = _next(
            current,
            changes,
            fold(current.effective, changes),
            current.sources,
            header.get("commit"),
            f"recovered {len(changes)} changes of an interrupted apply",
            header.get("actor"),
        )
        base = {
            "actor": header.get("actor"),
            "time": now,
            "environment": header.get("environment"),
            "commit": header.get("commit"),
            "serial": record.serial,
            "lineage": record.lineage,
            "plan_digest": header.get("plan_digest"),
            **({"apply_id": apply_id} if apply_id else {}),
        }
        tail = [{**base, "event": "recovered", "applied": len(changes), **left_out}]
        backend.commit(
            record,
            current.serial,
            audit_stream(base, (c.to_json() for c in changes), tail),
            seal={"base": base, "tail": tail},
        )
        return record
    discard_staged(outputs)
    backend.discard_journal(
        {
            **note,
            "event": "journal-discarded",
            "discarded_apply": header.get("id"),
            "changes": len(entries),
            "sealed_serial": (seal or {}).get("serial"),
            "note": f"the interrupted apply started from serial {base_serial}, and the state is now "
            f"serial {current.serial}: its journal was not folded into the state",
        },
        entries,
    )
    return None


def _is_outputs(entry: object) -> bool:
    return isinstance(entry, dict) and "outputs" in entry and set(entry) <= {"outputs", "deferred"}


def journaled_changes(entries: list[dict]) -> tuple[list[dict], list[list[str]], int]:
    """(the changes a journal says were carried out, the files to put in place, how many changes of a torn
    batch were left out).

    A batching provider's changes and their files are one batch: `{"outputs": [...], "deferred": n}` and
    then its n changes. A kill while a large batch was written (many system calls) leaves only its first
    lines; its files were never put in place, so none of its changes happened: the batch is left out and
    its staged files removed. (A journal of an earlier version has the outputs line after its changes,
    written at once.)"""
    changes: list[dict] = []
    outputs: list[list[str]] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        if not _is_outputs(entry):
            changes.append(entry)
            i += 1
            continue
        count = entry.get("deferred")
        batch = entries[i + 1 : i + 1 + count] if isinstance(count, int) else []
        if isinstance(count, int) and len(batch) < count:
            discard_staged(entry["outputs"])
            return changes, outputs, len(batch)
        outputs += entry["outputs"]
        changes += batch
        i += 1 + len(batch)
    return changes, outputs, 0


def discard_staged(manifest: Iterable[list[str]]) -> None:
    for staged, _, _ in manifest:
        try:
            os.unlink(staged)
        except OSError:
            pass


def still_present(source_key: str, effective: Mapping) -> bool:
    kind, _, key = source_key.partition(":")
    section = SECTION_OF[kind]
    return key in effective.get(section, {})


def audit_base(
    environment: str,
    commit: str | None,
    record: StateRecord,
    reason: str | None,
    plan_digest: str | None,
    apply_id: str | None,
) -> dict:
    """What every audit entry of one apply says (apply_id ties them to the apply and its journal)."""
    base = {
        "actor": actor(),
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment,
        "commit": commit,
        "serial": record.serial,
        "lineage": record.lineage,
    }
    if reason:
        base["reason"] = reason
    if plan_digest:
        base["plan_digest"] = plan_digest
    if apply_id:
        base["apply_id"] = apply_id
    return base


def failed_text(result: ApplyResult, planned: int) -> str:
    """What an apply that failed or was interrupted tells: each failed change (one per project) and what
    was recorded."""
    failures = result.failures or ((result.failed,) if result.failed else ())
    told = "; ".join(f"{f.change.kind} {f.change.key}: {f.message}" for f in failures)
    what = f"{told}. " if told else "interrupted (Ctrl-C): "
    return (
        f"{what}{len(result.applied)} of {planned} changes were applied and recorded (serial "
        f"{result.record.serial}); run plan to see what is left"
    )


def outcome_entry(
    base: dict, plan: Plan, applied: list[Change], failures: list[ProviderError], interrupted: bool = False
) -> dict:
    """The apply's last audit entry: applied, failed (the first failure; each one when several projects
    failed) or interrupted (Ctrl-C: what was applied before it)."""
    outcome = {**base, "event": "apply", "applied": len(applied), "planned": len(plan.changes), "summary": plan.summary}
    if plan.partial is not None:  # --study/--target: what was selected, and how much was left pending
        outcome["partial"] = plan.partial.audit()
    if failures:
        outcome["event"] = "apply-failed"
        outcome["failed_change"] = failures[0].change.to_json()
        outcome["error"] = failures[0].message
        if len(failures) > 1:
            outcome["failures"] = [{"change": f.change.to_json(), "error": f.message} for f in failures]
    if interrupted:
        outcome["event"] = "apply-interrupted"
    return outcome


def audit_stream(base: dict, changes: Iterable[dict], tail: Iterable[dict], prepared=None) -> AuditStream:
    """One entry per change, then the outcome (state.audit_lines.AuditStream); prepared: the changes' text
    made ahead by the backend (prepare_audit)."""
    return AuditStream(base, changes, tail, prepared)
