"""Apply stage: providers carry out a plan change by change; the state records what succeeded.

The new state is the previous one with exactly the changes that succeeded folded in, so after a
provider failure the next plan shows only what is left. Every apply appends to the audit log.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from ..plan import Change, Plan
from ..providers import Provider, ProviderError
from ..state import StateRecord, fold, next_record
from ..state.locking import actor

_GLOBAL_KINDS = ("account", "site", "group")


@dataclass(frozen=True)
class ApplyResult:
    record: StateRecord
    applied: tuple[Change, ...]
    failed: ProviderError | None
    written: tuple[str, ...]


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _providers_of(change: Change, systems: Mapping[str, str], providers: Mapping[str, Provider]) -> list[Provider]:
    if change.kind in _GLOBAL_KINDS:
        return list(providers.values())
    system = systems.get(change.study or "")
    return [providers[system]] if system in providers else []


def execute(plan: Plan, previous: StateRecord, systems: Mapping[str, str], desired_sources: Mapping[str, str],
            providers: Mapping[str, Provider], backend, commit: str | None, reason: str | None = None,
            plan_digest: str | None = None) -> ApplyResult:
    applied: list[Change] = []
    failure: ProviderError | None = None
    for change in plan.changes:
        try:
            for provider in _providers_of(change, systems, providers):
                provider.apply(change)
        except ProviderError as exc:
            failure = exc
            break
        applied.append(change)
    effective = fold(previous.effective, applied)
    written: list[str] = []
    for provider in providers.values():
        written.extend(provider.finish(applied, effective))
    sources = {k: v for k, v in {**previous.sources, **desired_sources}.items() if _still_present(k, effective)}
    record = next_record(previous, effective, sources, commit) if applied else previous
    if applied:
        backend.write(record, expected_serial=previous.serial)
    backend.append_audit(audit_entries(plan, applied, failure, record, commit, reason, plan_digest))
    return ApplyResult(record, tuple(applied), failure, tuple(written))


def _still_present(source_key: str, effective: Mapping) -> bool:
    kind, _, key = source_key.partition(":")
    section = {"account": "accounts", "grant": "grants", "group": "groups", "study": "studies", "site": "sites"}[kind]
    return key in effective.get(section, {})


def audit_entries(plan: Plan, applied: list[Change], failure: ProviderError | None, record: StateRecord,
                  commit: str | None, reason: str | None, plan_digest: str | None) -> list[dict]:
    """One JSON line per change, then one for the outcome: greppable by key, person or study."""
    base = {"actor": actor(), "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "environment": plan.environment, "commit": commit, "serial": record.serial, "lineage": record.lineage}
    if reason:
        base["reason"] = reason
    if plan_digest:
        base["plan_digest"] = plan_digest
    entries = [{**base, "event": "change", "change": c.to_json()} for c in applied]
    outcome = {**base, "event": "apply", "applied": len(applied), "planned": len(plan.changes),
               "summary": plan.summary}
    if failure is not None:
        outcome["event"] = "apply-failed"
        outcome["failed_change"] = failure.change.to_json()
        outcome["error"] = failure.message
    entries.append(outcome)
    return entries
