"""Apply stage: providers carry out a plan change by change; the state records what succeeded.

The new state is the previous one with exactly the changes that succeeded folded in, so after a
provider failure the next plan shows only what is left. Every apply appends to the audit log.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Mapping

from ..plan import Change, Plan
from ..plan.brakes import GUARDS_SECTION, applied_guards
from ..providers import GROUP_FILE_SYSTEMS, Provider, ProviderError, Reach
from ..plan.saved import change_from_saved, change_to_saved
from ..state import StateRecord, fold, next_record
from ..state.record import SECTION_OF, summarize
from ..state.locking import actor


@dataclass(frozen=True)
class ApplyResult:
    record: StateRecord
    applied: tuple[Change, ...]
    failed: ProviderError | None
    written: tuple[str, ...]
    notices: tuple[str, ...] = ()   # problems worth telling that did not fail the apply (e.g. mail)


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _providers_of(change: Change, reach: Reach, providers: Mapping[str, Provider]) -> list[Provider]:
    return [providers[system] for system in sorted(reach.systems(change)) if system in providers]


def execute(plan: Plan, previous: StateRecord, systems: Mapping[str, str], desired_sources: Mapping[str, str],
            providers: Mapping[str, Provider], backend, commit: str | None, reason: str | None = None,
            plan_digest: str | None = None, reach: Reach | None = None, guards: Mapping | None = None) -> ApplyResult:
    """Carry out the plan change by change; the journal holds each change once it really happened.
    reach: which systems each change concerns (providers.Reach); by default from the studies' systems, the
    state and the providers given. guards: the environment's guards as the configuration declares them
    (plan/brakes.declared_guards), recorded with the new state when it has none yet; a change of recorded
    guards is a planned change."""
    if reach is None:
        reach = Reach(plan.changes, previous.effective, systems, GROUP_FILE_SYSTEMS & set(providers))
    journal = backend.journal
    journal.begin({"base_serial": previous.serial, "lineage": previous.lineage, "environment": plan.environment,
                   "plan_digest": plan_digest, "commit": commit, "actor": actor(), "reason": reason})
    done: list[Change] = []       # carried out and journaled
    deferred: list[Change] = []   # accepted by a provider that makes them real when it finishes
    failure: ProviderError | None = None
    for change in plan.changes:
        targets = _providers_of(change, reach, providers)
        try:
            for provider in targets:
                provider.apply(change)
        except ProviderError as exc:
            failure = exc
            break
        if any(getattr(p, "batched", False) for p in targets):
            deferred.append(change)
        else:
            journal.append([change_to_saved(change)])
            done.append(change)
    applied = done + deferred
    effective = fold(previous.effective, applied)
    written: list[str] = []
    try:
        for provider in providers.values():
            written.extend(provider.finish(applied, effective))
        journal.append(change_to_saved(c) for c in deferred)  # streamed: all of a first apply
        done = applied
    except ProviderError as exc:  # the bulk files were not written: those changes did not happen
        failure = failure or exc
        effective = fold(previous.effective, done)
    if guards is not None and done and applied_guards(effective, plan.environment) is None:
        effective[GUARDS_SECTION] = {**effective[GUARDS_SECTION], plan.environment: dict(guards)}
    record = _commit(backend, previous, done, effective, {**previous.sources, **desired_sources}, commit, None)
    backend.append_audit(audit_entries(plan, done, failure, record, commit, reason, plan_digest))
    journal.clear()
    return ApplyResult(record, tuple(done), failure, tuple(written))


def _commit(backend, previous: StateRecord, changes: list[Change], effective: dict, sources: Mapping[str, str],
            commit: str | None, note: str | None, who: str | None = None) -> StateRecord:
    if not changes:
        return previous
    kept = {k: v for k, v in sources.items() if still_present(k, effective)}
    del sources  # the caller's merged sources: one copy of 200,000 entries less while the state is written
    record = next_record(previous, effective, kept, commit, who or actor(), summarize(changes), note)
    del kept  # copied into the record
    backend.write(record, expected_serial=previous.serial)
    return record


def recover(backend) -> StateRecord | None:
    """Fold the journal of an interrupted apply into a new state version. Call under the lock."""
    found = backend.journal.read()
    if found is None:
        return None
    header, entries = found
    current = backend.read()
    if (header.get("base_serial"), header.get("lineage")) != (current.serial, current.lineage):
        backend.journal.clear()  # the apply did commit its state; only the journal was left behind
        return None
    changes = [change_from_saved(e) for e in entries]
    record = _commit(backend, current, changes, fold(current.effective, changes), current.sources,
                     header.get("commit"), f"recovered {len(changes)} changes of an interrupted apply",
                     header.get("actor"))
    if changes:
        base = {"actor": header.get("actor"), "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "environment": header.get("environment"), "commit": header.get("commit"), "serial": record.serial,
                "lineage": record.lineage, "plan_digest": header.get("plan_digest")}
        backend.append_audit([{**base, "event": "change", "change": c.to_json()} for c in changes]
                             + [{**base, "event": "recovered", "applied": len(changes)}])
    backend.journal.clear()
    return record


def still_present(source_key: str, effective: Mapping) -> bool:
    kind, _, key = source_key.partition(":")
    section = SECTION_OF[kind]
    return key in effective.get(section, {})


def audit_entries(plan: Plan, applied: list[Change], failure: ProviderError | None, record: StateRecord,
                  commit: str | None, reason: str | None, plan_digest: str | None) -> Iterator[dict]:
    """One JSON line per change, then one for the outcome: greppable by key, person or study.
    Made one at a time as the backend writes them (a first apply has one per grant)."""
    base = {"actor": actor(), "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "environment": plan.environment, "commit": commit, "serial": record.serial, "lineage": record.lineage}
    if reason:
        base["reason"] = reason
    if plan_digest:
        base["plan_digest"] = plan_digest
    for c in applied:
        yield {**base, "event": "change", "change": c.to_json()}
    outcome = {**base, "event": "apply", "applied": len(applied), "planned": len(plan.changes),
               "summary": plan.summary}
    if failure is not None:
        outcome["event"] = "apply-failed"
        outcome["failed_change"] = failure.change.to_json()
        outcome["error"] = failure.message
    yield outcome
