"""Carrying out a plan's changes: the changes of each study of a per-study provider (REDCap: one project per
study) in a lane of their own, up to --parallelism lanes at once; every other change first, one by one.

- Within a lane the changes keep the plan's order; a lane stops at its first failure, and the other lanes
  go on (one project refusing does not stop the others). A failure outside the lanes stops everything,
  before any lane starts, as an apply always did.
- Each change is journaled as soon as it happened, before its lane goes on, so a kill loses nothing that
  was done. The lanes' journal lines are made durable together (one fsync for all the changes that
  finished meanwhile: GroupRecorder), and every use of the backend is under one lock (the journal and the
  lock's fencing token are not shared between threads otherwise).
- What was done is returned in the plan's order, whatever order the lanes finished in, so the state and the
  audit log are the same at any parallelism.
- Ctrl-C: no lane starts a new change, the changes in progress finish (and are journaled); the caller
  records what was done and reports the interruption.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..diagnostics import UserError
from ..parallel import Stop, run_ordered_interruptible
from ..plan import Change
from ..plan.saved import change_to_saved
from ..progress import progress
from ..providers import Provider, ProviderError, Reach
from ..state import Journal, StateBackend

log = logging.getLogger("edcconf.apply")


@dataclass
class Outcome:
    failures: list[ProviderError]  # in the plan's order of the changes that failed
    interrupted: bool = False


def providers_of(change: Change, reach: Reach, providers: Mapping[str, Provider]) -> list[Provider]:
    return [providers[system] for system in sorted(reach.systems(change)) if system in providers]


def lane_of(change: Change, targets: list[Provider]) -> str | None:
    """The study whose lane a change runs in: its only provider works per study and it is that study's own
    change (a grant, or the study itself); None for every other change."""
    if len(targets) != 1 or not getattr(targets[0], "per_study", False):
        return None
    if change.kind == "grant" and change.study:
        return change.study
    if change.kind == "study":
        return change.key
    return None


def carry_out(
    changes: tuple[Change, ...],
    reach: Reach,
    providers: Mapping[str, Provider],
    backend: StateBackend,
    journal: Journal,
    done: list[Change],
    deferred: list[Change],
    environment: str,
) -> Outcome:
    """Every change through its providers; `done` gets the changes carried out and journaled, in plan order,
    `deferred` those a batching provider makes real when it finishes."""
    lanes: dict[str, list[tuple[int, Change]]] = {}
    others: list[Change] = []
    for index, change in enumerate(changes):
        study = lane_of(change, providers_of(change, reach, providers))
        if study is None:
            others.append(change)
        else:
            lanes.setdefault(study, []).append((index, change))
    if others:
        with progress(others, f"apply {environment}") as each:
            failure = one_by_one(each, reach, providers, backend, journal, done, deferred)
        if failure is not None or not lanes:
            return Outcome([failure] if failure else [])
    recorder = GroupRecorder(journal)

    def run_lane(lane: list[tuple[int, Change]], stop: Stop) -> tuple[list[tuple[int, Change]], ProviderError | None]:
        carried: list[tuple[int, Change]] = []
        for index, change in lane:
            if stop.requested:
                break
            provider = providers_of(change, reach, providers)[0]
            with recorder.backend_lock:
                backend.check_fence()  # an EDC system cannot check the lock itself: look just before asking it
            try:
                send(change, provider)
            except ProviderError as exc:
                return carried, exc
            recorder.record(change)
            carried.append((index, change))
        return carried, None

    ordered = list(lanes.values())  # by each lane's first change in the plan
    results, interrupted = run_ordered_interruptible(ordered, run_lane, f"apply {environment}")
    index_of = {id(c): i for i, c in enumerate(changes)}
    done.extend(change for lane_carried, _ in results.values() for _, change in lane_carried)
    done.sort(key=lambda c: index_of[id(c)])  # the plan's order: the same state and audit at any parallelism
    failures = sorted(
        (failure for _, failure in results.values() if failure is not None),
        key=lambda f: index_of.get(id(f.change), len(changes)),
    )
    return Outcome(failures, interrupted)


def one_by_one(
    changes: Iterable[Change],
    reach: Reach,
    providers: Mapping[str, Provider],
    backend: StateBackend,
    journal: Journal,
    done: list[Change],
    deferred: list[Change],
) -> ProviderError | None:
    """Each change through its providers, in order, journaled as it is done (a batching provider's when it
    finishes); stops at the first provider failure and returns it."""
    for change in changes:
        targets = providers_of(change, reach, providers)
        batched = any(p.batched for p in targets)
        try:
            if not all(p.batched for p in targets):
                backend.check_fence()  # an EDC system cannot check the lock itself: look just before asking it
            for provider in targets:
                send(change, provider)
        except ProviderError as exc:
            return exc
        if batched:
            deferred.append(change)
        else:
            record(journal, change)
            done.append(change)
    return None


def send(change: Change, provider: Provider) -> None:
    """One change through one provider, logged; a ProviderError (logged) reaches the caller."""
    log.debug("%s %s %s → %s", change.action, change.kind, change.key, type(provider).__name__)
    try:
        provider.apply(change)
    except ProviderError as exc:
        log.info("%s %s %s failed: %s", change.action, change.kind, change.key, exc)
        raise


def record(journal: Journal, change: Change) -> None:
    record_all(journal, [change])


def record_all(journal: Journal, changes: list[Change]) -> None:
    try:
        journal.append([change_to_saved(change) for change in changes])
    except UserError as exc:
        what = ", ".join(f"the {c.kind} {c.key} ({c.action})" for c in changes)
        raise UserError(
            f"{exc.message}. {what[0].upper()}{what[1:]} {'was' if len(changes) == 1 else 'were'} "
            "carried out but could not be recorded",
            code=exc.code,
        ) from None


class GroupRecorder:
    """Journal lines of many lanes, made durable together: record(change) returns once the change's line
    is durable; whichever lane finds no write under way writes every line waiting (group commit)."""

    def __init__(self, journal: Journal) -> None:
        self.backend_lock = threading.Lock()
        self._journal = journal
        self._cond = threading.Condition()
        self._waiting: list[Change] = []
        self._queued = self._durable = 0
        self._writing = False
        self._error: UserError | None = None

    def record(self, change: Change) -> None:
        with self._cond:
            self._waiting.append(change)
            self._queued += 1
            mine = self._queued
            while self._durable < mine:
                if self._error is not None:
                    raise self._error
                if self._writing:
                    self._cond.wait()
                    continue
                batch, self._waiting, upto, self._writing = self._waiting, [], self._queued, True
                self._cond.release()
                try:
                    with self.backend_lock:
                        record_all(self._journal, batch)
                except UserError as exc:
                    self._error = exc
                finally:
                    self._cond.acquire()
                    self._writing = False
                    if self._error is None:
                        self._durable = upto
                    self._cond.notify_all()
