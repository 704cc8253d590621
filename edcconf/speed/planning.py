"""`plan` with speed: from the exact-input memo when nothing it depends on changed (memo.py), else
incrementally from the last full plan's parts when only study files changed (incremental/), otherwise
made by the core (workflow.plan_environment, with the state file decoded beside the load: prefetch.py) and
remembered for both. What is answered equals what the core makes (tests/speed/)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import partial
from pathlib import Path

MEMO_MAX_CHANGES = 20_000  # a first rollout's plan is large and rarely planned twice: not worth the memory


def with_prefetch(root: Path, env: str, plan: Callable, with_applied: Callable[[dict], object] | None = None):
    """plan(prefetched_state) with the environment's usual state file decoded by a child while the
    configuration loads (used only if it is that environment's state); with_applied(decoded) runs in the
    child too, its result is the plan's applied_side."""
    from ..state.local import LocalBackend
    from .prefetch import StatePrefetch

    prefetch = StatePrefetch.start(LocalBackend(root, env).path, also=with_applied)
    try:
        planned = plan(prefetch)
    finally:
        if prefetch is not None:
            prefetch.cancel()  # not taken (another backend, an error): the child is stopped
    return planned if prefetch is None else replace(planned, applied_side=prefetch.also_result)


def plan_for_review(
    root: Path, env: str, as_of: date, refresh: bool, need_sources: bool, allow_unread: bool, plan_environment
):
    """See workflow.plan_for_review; plan_environment is the core's."""
    from . import cache_enabled
    from .incremental import applied_side, plan_incrementally, record
    from .memo import PlanMemo, scanned, state_digest, state_signature

    def made_now(with_applied=None):
        return with_prefetch(
            root,
            env,
            lambda prefetched: plan_environment(
                root, env, as_of, refresh, allow_unread=allow_unread, prefetched_state=prefetched
            ),
            with_applied,
        )

    if not cache_enabled():
        return made_now()
    from ..source import config_digest
    from ..source.blame import head

    signature = state_signature(Path(root), env)
    files, state = scanned(Path(root)), state_digest(Path(root), env)
    if files is None or state is None:
        return made_now()
    digest = config_digest(files)
    memo = PlanMemo(root)
    # access reviews (#20): who decided is read from git, so the checked-out commit is an input too: of the
    # memo's key, and of the incremental planner's (review files are global files to it, their bytes in its
    # key already; a study file's fragment depends on them as on any global file)
    reviewed = any(rel.startswith("reviews/") for rel, _ in files)
    commit = f":{head(Path(root))}" if reviewed else ""
    inputs = state + commit
    key = memo.key(env, as_of, refresh, digest + commit)
    hit = memo.get(key, state)
    if hit is not None:
        try:
            if need_sources:
                _ = hit.sources  # loads them, or raises LookupError when they are gone
            return hit
        except LookupError:
            pass
    incremental = plan_incrementally(Path(root), env, as_of, refresh, files, inputs, digest)
    if incremental is not None:
        return incremental
    planned = made_now(partial(applied_side, Path(root), env, as_of, inputs))
    if (
        _memoisable(planned, refresh)
        and planned.config_digest == digest
        and state_signature(Path(root), env) == signature
    ):  # the state read is the one digested
        memo.put(key, state, planned)
        record(Path(root), env, as_of, files, inputs, planned)  # for the next plan after a one-file change
    return planned


def _memoisable(planned, refresh: bool) -> bool:
    """Only plans whose every input is in the memo key: a local state file, no live read."""
    from ..providers import reads_live
    from ..state.local import LocalBackend

    return (
        isinstance(planned.backend, LocalBackend)
        and not (refresh and reads_live(planned.environment))
        and len(planned.plan.changes) <= MEMO_MAX_CHANGES
    )
