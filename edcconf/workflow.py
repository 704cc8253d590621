"""The commands' work, independent of click: plan one environment, apply a plan, read state."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .apply import ApplyResult, execute, git_commit, recover
from .assignment import check_ceilings, check_qualifications
from .diagnostics import Diagnostics, Loc, UserError, suggest
from .fs import FILE_SYSTEM_ERRNOS, file_system_error
from .model import Environment
from .pipeline import Desired, load_desired
from .plan import Plan, make_plan
from .plan.brakes import (
    Guards,
    declared_guards,
    find_brakes,
    guard_changes,
    guards_of,
)
from .plan.model import DATA_MANAGER_FLOOR, MASS_REVOCATION, PlanForReview
from .providers import Reach, providers_for
from .questions.compliance import applied_over_ceiling
from .questions.drift import refresh as refresh_live
from .rules import plan as plan_rules
from .rules import references as references_rules
from .source import load_sources
from .state import LocalBackend, StateBackend, StateRecord, open_backend
from .state.locking import actor
from .validate.build import build_model
from .validate.schema import validate_file

if TYPE_CHECKING:
    from .speed.prefetch import StatePrefetch


@dataclass(frozen=True)
class PlannedEnvironment:
    """A plan with what applying it needs: made now from the configuration, or loaded from a file."""

    plan: Plan
    environment: Environment
    previous: StateRecord
    backend: StateBackend
    systems: Mapping[str, str]  # study -> EDC system (desired and previously applied studies)
    sources: Mapping[str, str]  # desired "<kind>:<key>" -> "path:line"
    config_digest: str
    saved_digest: str | None = None  # set when the plan came from a saved file
    desired: Desired | None = None  # when planned now
    warnings: Diagnostics | None = None
    applied_side: object = None  # what speed's state prefetch child stored for the incremental planner
    guards: Guards | None = None  # protection and brakes this apply is held to (the last applied ones)
    applied_over: tuple[tuple[dict[str, Any], Loc], ...] = ()  # applied grants above their ceilings (plan_environment)


def plan_environment(
    root: Path,
    env: str,
    as_of: date,
    refresh: bool = True,
    allow_unread: bool = False,
    hold_lock: tuple[ExitStack, float] | None = None,
    prefetched_state=None,
) -> PlannedEnvironment:
    """The plan of one environment, made from the configuration and the state. refresh reads live access
    where a target can; a study it could not read is a UserError unless allow_unread (a warning).
    hold_lock (stack, timeout): take the environment's lock for an apply (waiting up to timeout seconds)
    before the state is read, and leave it held in stack: see plan_under_lock. prefetched_state: the
    state file being decoded elsewhere (path and take(like), e.g. speed/prefetch.StatePrefetch), used if
    it is this environment's file and still the one it read; whoever started it stops it."""
    desired = load_desired(root, as_of, [env])
    environment = desired.model.environments[env]
    backend = open_backend(root, environment)
    if hold_lock is not None:
        refuse_protected(environment)  # before waiting for a lock it could not use
        stack, timeout = hold_lock
        stack.enter_context(backend.lock("apply", timeout=timeout))
    env_state = desired.resolution.environments[env]
    previous = read_recovered(
        backend,
        like=env_state.state,
        prefetch=prefetched_state,  # unchanged values held once
        locked=hold_lock is not None,
    )
    warnings = tuple(desired.diagnostics.warnings)
    plan = make_plan(env_state, previous.effective, previous.sources, previous.serial, previous.lineage, warnings)
    if refresh:
        plan = refresh_live(plan, environment, previous, env_state.state, root, allow_unread=allow_unread)
    applied_over = tuple(applied_over_ceiling(desired.model, previous, as_of))
    plan = check_ceilings(plan, env_state, applied_over)  # after the refresh: restoring drift is a change too
    plan = check_qualifications(plan, env_state, previous.effective.get("grants", {}))
    guards = guards_of(environment, previous.effective)  # the applied guards, not those under review
    plan = replace(
        plan,
        changes=guard_changes(environment, previous.effective) + plan.changes,
        brakes=find_brakes(plan.changes, previous.effective, env_state.state, guards),
    )
    systems = {
        k: v["system"]
        for k, v in {**previous.effective.get("studies", {}), **env_state.state.get("studies", {})}.items()
    }
    return PlannedEnvironment(
        plan,
        environment,
        previous,
        backend,
        systems,
        env_state.sources,
        desired.model.digest,
        desired=desired,
        guards=guards,
        applied_over=applied_over,
    )


def plan_now(
    root: Path,
    env: str,
    as_of: date,
    refresh: bool = True,
    allow_unread: bool = False,
    hold_lock: tuple[ExitStack, float] | None = None,
) -> PlannedEnvironment:
    """plan_environment, with speed's state prefetch wired in (unless EDCCONF_SPEED=off)."""
    from . import speed

    def plan(prefetched=None) -> PlannedEnvironment:
        return plan_environment(root, env, as_of, refresh, allow_unread, hold_lock, prefetched_state=prefetched)

    if not speed.enabled():
        return plan()
    from .speed.planning import with_prefetch

    return with_prefetch(root, env, plan)


def plan_for_review(
    root: Path, env: str, as_of: date, refresh: bool = True, need_sources: bool = False, allow_unread: bool = False
) -> PlanForReview:
    """What `plan` prints (and saves): made now by plan_environment, or, with speed, answered from its memo
    or incremental planner when they hold it (speed/planning.py: the same plan). The result has plan,
    config_digest, systems and sources; need_sources asks for a memoised plan whose systems and sources can
    be read (for --out). allow_unread (see plan_environment) only reaches plans made now: no plan that
    reads live access is memoised."""
    from . import speed

    if not speed.enabled():
        return plan_environment(root, env, as_of, refresh, allow_unread=allow_unread)
    from .speed.planning import plan_for_review as fast

    return fast(Path(root), env, as_of, refresh, need_sources, allow_unread, plan_environment)


def read_recovered(
    backend: StateBackend,
    like: Mapping[str, Any] | None = None,
    prefetch: StatePrefetch | None = None,
    locked: bool = False,
) -> StateRecord:
    """The state, after folding in the journal of an apply that was interrupted (if nobody holds the
    lock: an apply that is still running owns its journal; locked: this process holds it); like: see
    LocalBackend.read. prefetch: a speed/prefetch.StatePrefetch of the backend's file, used if that file
    is still the one it read."""

    if locked:
        recover(backend)
    else:
        try:
            with backend.lock("recover", timeout=0):
                recover(backend)
        except UserError as exc:
            # Windows (no lock for the local backend): with nothing to recover, read as a read-only checkout does
            unsupported = exc.code == "state-local-unsupported" and backend.journal.read() is None
            if exc.code != "state-locked" and not unsupported:
                raise
        except OSError as exc:  # no lock (read-only checkout, full disk, a directory at the lock's path)
            _unlocked_read(backend, exc)
    if prefetch is not None and isinstance(backend, LocalBackend) and backend.path == prefetch.path:
        data = prefetch.take(like)
        if data is not None:
            return backend.record_of(data)
    return backend.read(like)


def _unlocked_read(backend: StateBackend, exc: OSError) -> None:
    """The lock could not be taken (nor its holder written): a command that only reads needs it only to
    record an interrupted apply's journal, so without a journal it goes on; with one, it cannot be
    recorded here, and a plan made without it would show work already done."""

    if exc.errno not in FILE_SYSTEM_ERRNOS:
        raise exc
    try:
        journal = backend.journal.read() is not None
    except OSError:
        journal = True
    if journal:
        raise file_system_error(
            exc,
            f"an interrupted apply of {backend.environment} left a journal to record "
            "in the state, which needs the state's lock",
        ) from None


def refuse_brakes(plan: Plan, allow_mass_revocation: bool) -> None:
    floor = [b for b in plan.brakes if b.code == DATA_MANAGER_FLOOR]
    if floor:
        raise UserError("; ".join(b.message for b in floor), code=DATA_MANAGER_FLOOR)
    mass = [b for b in plan.brakes if b.code == MASS_REVOCATION]
    if mass and not allow_mass_revocation:
        raise UserError(
            "; ".join(b.message for b in mass) + ". Review the plan; if this is intended, apply "
            "with --allow-mass-revocation",
            code=MASS_REVOCATION,
        )


def plan_under_lock(
    stack: ExitStack, root: Path, env: str, as_of: date, lock_timeout: float = 0.0, allow_unread: bool = False
) -> PlannedEnvironment:
    """`apply --env`: take the environment's lock first (waiting up to lock_timeout seconds), then plan
    against the state read under it; the lock stays held in stack, so apply_planned(..., locked=True)
    applies against exactly that state. Planning before the lock made --lock-timeout useless: after
    waiting for another apply, the plan was always stale."""
    return plan_now(root, env, as_of, allow_unread=allow_unread, hold_lock=(stack, lock_timeout))


def refuse_protected(environment: Environment) -> None:
    """Early, before waiting for a lock: protected as declared (stricter than as applied, never looser)."""
    if environment.protected:
        raise UserError(
            f"{environment.name} is protected: it applies only from a saved plan that was reviewed "
            f"(edcconf plan --env {environment.name} --out FILE, then edcconf apply FILE)",
            code=plan_rules.PROTECTED.code,
        )


def refuse_protected_as_applied(planned: PlannedEnvironment) -> None:
    """Protected as last applied: a change under review that sets protected: false is not enough."""
    assert planned.guards is not None  # plan_environment always sets them
    if planned.guards.protected:
        env = planned.environment.name
        still = (
            ""
            if planned.guards.declared["protected"]
            else " (as last applied; the configuration's "
            "protected: false takes effect after a reviewed plan that says so is applied)"
        )
        raise UserError(
            f"{env} is protected{still}: it applies only from a saved plan that was reviewed "
            f"(edcconf plan --env {env} --out FILE, then edcconf apply FILE)",
            code=plan_rules.PROTECTED.code,
        )


def apply_planned(
    root: Path,
    planned: PlannedEnvironment,
    lock_timeout: float = 0.0,
    reason: str | None = None,
    allow_mass_revocation: bool = False,
    locked: bool = False,
    ahead=None,
) -> ApplyResult:
    """Apply a plan under the environment's lock (locked: this process holds it already, see
    plan_under_lock); refuses if the state moved since it was made. ahead: the notifications' child
    started early (notifications_early): used only if it rendered exactly what is applied, as any other;
    the caller cancels it if this raises."""
    from .apply.notify import refuse_links_out as refuse_notification_links  # local: loads jinja2

    refuse_brakes(planned.plan, allow_mass_revocation)
    env_name = planned.plan.environment
    backend = planned.backend
    with nullcontext() if locked else backend.lock("apply", timeout=lock_timeout):
        # under the lock the plan was made with, the state it read is the state (a forced unlock is caught
        # by the fence at the first write); otherwise read it again: unchanged values are held once
        current = planned.previous if locked else backend.read(like=planned.previous.effective)
        if (current.serial, current.lineage) != (planned.previous.serial, planned.previous.lineage):
            raise UserError(
                f"the state of {env_name} changed since this plan was made (serial "
                f"{planned.previous.serial} → {current.serial}); plan again",
                code=plan_rules.STALE_PLAN.code,
            )
        refuse_notification_links(root, env_name, current.serial + 1)  # before anything is changed
        # every system a change concerns, account-only plans included (providers.Reach)
        reach = Reach.of(planned.plan.changes, current.effective, planned.systems, planned.environment)
        providers = providers_for(
            root, planned.environment, reach.used, current.serial + 1, _study_sites(planned, current)
        )
        if ahead is None:  # one started early rendered what it was started with: take() checks that
            ahead = _notifications_ahead(root, planned, current, reason)
        try:
            result = execute(
                planned.plan,
                current,
                planned.systems,
                planned.sources,
                providers,
                backend,
                git_commit(root),
                reason,
                planned.saved_digest,
                reach=reach,
                guards=declared_guards(planned.environment),
            )
        except BaseException:
            if ahead is not None:
                ahead.cancel()
            raise
    return _notify(root, result, reason, ahead)


def _study_sites(planned: PlannedEnvironment, current: StateRecord) -> dict[str, list[str]]:
    """Each study's sites once the plan is applied (a REDCap user of every site has no data access group)."""
    sites = {k: list(v.get("sites", [])) for k, v in current.effective.get("studies", {}).items()}
    for change in planned.plan.changes:
        if change.kind == "study" and change.after is not None:
            sites[change.key] = list(change.after.get("sites", []))
    return sites


def notifications_early(root: Path, planned: PlannedEnvironment, reason: str | None):
    """The notifications' child of an apply started as soon as its plan is made under the lock (while the
    plan is printed, the machine's other core is idle), for apply_planned(ahead=...); None when it would
    not be started, or when the notifications folder leads out of the configuration (apply_planned refuses
    that at its usual point). The caller cancels it if the apply does not happen."""
    from .apply.notify import refuse_links_out

    try:
        refuse_links_out(root, planned.plan.environment, planned.previous.serial + 1)  # before the child writes
    except UserError:
        return None
    return _notifications_ahead(root, planned, planned.previous, reason)


def _notifications_ahead(root: Path, planned: PlannedEnvironment, current: StateRecord, reason: str | None):
    """With speed: the plan's notifications rendered by a child while the apply runs (or None)."""
    from . import speed

    if not speed.enabled() or planned.plan.empty:
        return None
    from .speed.notify_ahead import NotificationsAhead

    return NotificationsAhead.start(
        root, planned.plan.changes, current.effective, planned.plan.environment, current.serial + 1, actor(), reason
    )


def _notify(root: Path, result: ApplyResult, reason: str | None, ahead=None) -> ApplyResult:
    """Tell the people concerned by what was applied (files, and SMTP when configured). ahead: see
    _notifications_ahead; used only if it rendered exactly these messages."""

    from .apply.notify import build_messages, deliver  # local: loads jinja2

    if not result.applied:
        if ahead is not None:
            ahead.cancel()
        return result
    record = result.record
    accounts = record.effective.get("accounts", {})
    approved_by = record.actor or actor()
    filled = ahead.take(result.applied, accounts, record.serial, approved_by, reason) if ahead is not None else None
    messages = build_messages(root, result.applied, accounts, record.environment, record.serial, approved_by, reason)
    from jinja2 import TemplateError  # local: jinja2 is slow to import

    try:
        written, problems = deliver(root, messages, record.environment, record.serial, filled)
    except TemplateError as exc:  # the apply happened: a template that cannot render is told, not a crash
        written, problems = (
            [],
            [
                f"notifications were not written: a template in templates/notifications/ "
                f"cannot be rendered ({exc.__class__.__name__}: {exc})"
            ],
        )
    return replace(result, written=result.written + tuple(written), notices=tuple(problems))


def read_state(root: Path, env: str) -> StateRecord:
    return open_backend(root, environment_of(root, env)).read()


def environment_of(root: Path, env: str) -> Environment:
    """An environment's declaration (for its state backend and targets) without requiring the rest of
    the configuration to be valid: `show` and `history` must work while a pull request is broken."""

    sources = load_sources(Path(root))
    env_files = tuple(
        f
        for f in sources.files
        if isinstance(f.data, dict) and ("environment" in f.data or "environments" in f.data) and not validate_file(f)
    )
    model, _ = build_model(Path(root), sources.digest, env_files)
    if env not in model.environments:
        raise UserError(
            f"unknown environment {env!r}{suggest(env, model.environments)}",
            code=references_rules.UNKNOWN_REFERENCE.code,
        )
    return model.environments[env]
