"""Partial plans: `plan` and `apply` with `--study S` and `--target ADDRESS`, as Terraform's `-target`.

The plan is made as usual (the whole configuration must be valid), then only the changes of the
selected studies and addresses are kept, with the changes they need:

- a grant that gives access needs its person's pending account change (a new account, a reactivation,
  an update: its group is the ceiling the grant was checked against), its study's pending change and
  the creation of its sites;
- an account needs its group's pending change; a study needs its sites' and its admins' accounts';
- what takes something away needs what stops using it first: a deactivated account the revocation of
  its grants, a revoked study the changes of its grants, a study that drops a site or a custom role the
  changes of the grants at that site or in that role, a revoked site the studies and grants that drop
  it, a revoked group the accounts that leave it.

The change of the environment's guards (`~ environment`) is never part of a partial plan. Brakes are
counted on the kept changes, against the state they lead to. An address is what `edcconf state list`
prints (`grant.CARDIO-01/jane.doe`, `account.li.wei`, `study.CARDIO-01`: the study's own record); a
trailing `*` makes it a prefix (`grant.CARDIO-01/*`). `--study S` is every change of the study (its
record and its grants)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..diagnostics import UserError, suggest
from ..rules import commands as commands_rules
from ..rules import plan as plan_rules
from ..state.edit import SECTIONS
from ..state.record import fold
from .brakes import find_brakes
from .model import Change, Plan

if TYPE_CHECKING:
    from .brakes import Guards

# the state's addresses (`state list`) but roles: a role version is applied with the grants that use it
ADDRESS_KINDS = {kind: section for kind, section in SECTIONS.items() if kind != "role"}
_SITE_MAKING = ("create", "update")


@dataclass(frozen=True)
class Selection:
    studies: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.studies or self.targets)

    def describe(self) -> str:
        return " ".join([f"--study {s}" for s in self.studies] + [f"--target {t}" for t in self.targets])

    def to_json(self) -> dict[str, Any]:
        return {"studies": list(self.studies), "targets": list(self.targets)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Selection:
        studies, targets = data.get("studies") or [], data.get("targets") or []
        if not all(isinstance(v, str) for v in [*studies, *targets]):
            raise ValueError("the partial plan's selection is not of the saved shape")
        return cls(tuple(studies), tuple(targets))


@dataclass(frozen=True)
class Partial:
    """What a partial plan kept and left out (Plan.partial)."""

    selection: Selection
    needed_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # dependency -> what needs it
    left_out: int = 0  # changes of the full plan that this one does not show or apply
    environment_pending: bool = False  # the full plan changes the environment's guards (left out)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.selection.to_json(),
            "dependencies": {k: list(v) for k, v in self.needed_by.items()},
            "not_applied": self.left_out,
            "environment_change_excluded": self.environment_pending,
        }

    def audit(self) -> dict[str, Any]:
        """What the audit log keeps of it: the selection and how much was left pending."""
        return {**self.selection.to_json(), "dependencies": len(self.needed_by), "not_applied": self.left_out}

    @classmethod
    def from_json(cls, data: Any) -> Partial:
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("not_applied"), int)
            or not isinstance(data.get("dependencies"), dict)
        ):
            raise ValueError("the partial plan's record is not of the saved shape")
        return cls(
            Selection.from_json(data),
            {k: tuple(v) for k, v in data["dependencies"].items()},
            data["not_applied"],
            data.get("environment_change_excluded") is True,
        )

    def banner(self, environment: str) -> str:
        n = self.left_out
        text = (
            f"Partial plan: only the changes selected by {self.selection.describe()} and those they need; "
            f"{n} other change{'s are' if n != 1 else ' is'} not shown and will not be applied (edcconf plan --env "
            f"{environment} shows the full plan)."
        )
        if self.environment_pending:
            text += (
                f" The pending change of {environment}'s protection and safety (~ environment {environment}) "
                "is not part of a partial plan: only a full apply records it."
            )
        return text


def address(change: Change) -> str:
    return f"{change.kind}.{change.key}"


def narrow(planned: Any, selection: Selection) -> Any:  # workflow.PlannedEnvironment: plan does not import workflow
    """A PlannedEnvironment (workflow) reduced to the selection: its plan (changes, brakes, partial) and
    the declaration sources of the kept changes only, so every other recorded source stays as it was."""
    env = planned.plan.environment
    applied = planned.previous.effective
    assert planned.desired is not None and planned.guards is not None  # a plan made now (plan_environment)
    desired = planned.desired.resolution.environments[env].state
    plan = select(planned.plan, selection, applied, desired, planned.guards)
    kept = {f"{c.kind}:{c.key}" for c in plan.changes}
    return replace(planned, plan=plan, sources={k: v for k, v in planned.sources.items() if k in kept})


def select(
    plan: Plan, selection: Selection, applied: Mapping[str, Any], desired: Mapping[str, Any], guards: Guards
) -> Plan:
    """The plan with only the selected changes and those they need, brakes counted on them."""

    check_selection(selection, plan.environment, applied, desired, plan.changes)
    changes = [c for c in plan.changes if c.kind != "environment"]
    chosen = {address(c) for c in changes if _selected(c, selection)}
    index = _Index(changes)
    needed_by: dict[str, list[str]] = {}
    todo = list(chosen)
    while todo:
        need = todo.pop()
        for dep in _needs(index.by_address[need], index):
            dep_address = address(dep)
            if dep_address in chosen:
                continue
            if dep_address not in needed_by:
                todo.append(dep_address)
            needed_by.setdefault(dep_address, []).append(need)
    kept = tuple(c for c in changes if address(c) in chosen or address(c) in needed_by)
    brakes = find_brakes(kept, applied, fold(applied, kept), guards)  # on what will be applied
    partial = Partial(
        selection,
        {k: tuple(sorted(set(v))) for k, v in sorted(needed_by.items())},
        len(plan.changes) - len(kept),
        any(c.kind == "environment" for c in plan.changes),
    )
    return replace(plan, changes=kept, brakes=brakes, partial=partial)


def _selected(change: Change, selection: Selection) -> bool:
    if change.study is not None and change.study in selection.studies:
        return True
    return any(_matches(target, address(change)) for target in selection.targets)


def _matches(target: str, here: str) -> bool:
    """An address given to --target: itself, or with a trailing * every address it starts."""
    return here.startswith(target[:-1]) if target.endswith("*") else here == target


class _Index:
    """The full plan's changes by address, and the grant and account changes by what they concern."""

    def __init__(self, changes: Iterable[Change]) -> None:
        self.by_address = {address(c): c for c in changes}
        self.grants_of_user: dict[str, list[Change]] = {}
        self.grants_of_study: dict[str, list[Change]] = {}
        for c in self.by_address.values():
            if c.kind == "grant":
                self.grants_of_user.setdefault(str(_value(c).get("user")), []).append(c)
                self.grants_of_study.setdefault(c.study or "", []).append(c)

    def pending(self, kind: str, key: Any, actions: Iterable[str] | None = None) -> Iterator[Change]:
        change = self.by_address.get(f"{kind}.{key}")
        if change is not None and (actions is None or change.action in actions):
            yield change


def _value(change: Change) -> Mapping[str, Any]:
    return change.after or change.before or {}


def _needs(c: Change, ix: _Index) -> Iterator[Change]:
    """The changes that `c` cannot be applied without (see the module's docstring)."""
    after, before = c.after or {}, c.before or {}
    if c.kind == "grant" and c.after is not None:
        account = next(ix.pending("account", after.get("user")), None)
        if account is not None and (account.after or {}).get("status") == "active":
            yield account
        yield from ix.pending("study", c.study, ("create", "update"))
        for site in after.get("sites") or ():
            yield from ix.pending("site", site, ("create",))
    elif c.kind == "account":
        if after.get("status") == "active":
            yield from ix.pending("group", after.get("group"), ("create", "update"))
        if c.action == "deactivate":
            yield from (g for g in ix.grants_of_user.get(c.key, ()) if g.after is None)
    elif c.kind == "study" and c.after is not None:
        for site in after.get("sites") or ():
            yield from ix.pending("site", site, _SITE_MAKING)
        for admin in after.get("admins") or ():
            yield from ix.pending("account", admin, ("create", "reactivate"))
        dropped_sites = set(before.get("sites") or ()) - set(after.get("sites") or ())
        dropped_roles = set(before.get("roles") or ()) - set(after.get("roles") or ())
        yield from (
            g
            for g in ix.grants_of_study.get(c.key, ())
            if g.before is not None
            and (set(g.before.get("sites") or ()) & dropped_sites or g.before.get("role") in dropped_roles)
        )
    elif c.kind == "study":  # revoked: its grants go first
        yield from ix.grants_of_study.get(c.key, ())
    elif c.kind == "site" and c.action == "revoke":
        for other in ix.by_address.values():
            if (
                other.kind in ("study", "grant")
                and c.key in ((other.before or {}).get("sites") or ())
                and c.key not in ((other.after or {}).get("sites") or ())
            ):
                yield other
    elif c.kind == "group" and c.action == "revoke":
        yield from (
            a
            for a in ix.by_address.values()
            if a.kind == "account" and (a.before or {}).get("group") == c.key and (a.after or {}).get("group") != c.key
        )


def check_selection(
    selection: Selection,
    environment: str,
    applied: Mapping[str, Any],
    desired: Mapping[str, Any],
    changes: Iterable[Change],
) -> None:
    """Every --study and --target names something declared for the environment, recorded in its state or
    planned (exit 1 otherwise, with a suggestion when one is close)."""

    studies = set(applied.get("studies") or {}) | set(desired.get("studies") or {})
    for study in selection.studies:
        if study not in studies:
            raise UserError(
                f"unknown study {study!r}: it is neither declared for {environment} nor recorded in "
                f"its state{suggest(study, studies)}",
                code=plan_rules.UNKNOWN_TARGET.code,
            )
    known: set[str] | None = None
    for target in selection.targets:
        kind, dot, key = target.partition(".")
        if kind == "role" and dot:
            raise UserError(
                f"--target {target}: a role version is applied with the grants that use it; target "
                "those grants (grant.STUDY/USER) or the study (--study STUDY)",
                code=commands_rules.USAGE.code,
            )
        if kind == "environment" and dot:
            raise UserError(
                f"--target {target}: the change of an environment's protection and safety is never "
                "part of a partial plan; plan and apply without --study and --target",
                code=commands_rules.USAGE.code,
            )
        if kind not in ADDRESS_KINDS or not dot or not key:
            raise UserError(
                f"--target {target!r} is not an address: write KIND.KEY with KIND one of "
                f"{', '.join(ADDRESS_KINDS)} (e.g. grant.CARDIO-01/jane.doe, account.li.wei), as "
                f"`edcconf state list --env {environment}` prints them",
                code=commands_rules.USAGE.code,
            )
        if known is None:
            known = _addresses(applied, desired, changes)
        found = any(_matches(target, a) for a in known) if target.endswith("*") else target in known
        if not found:
            same_kind = [a for a in known if a.startswith(f"{kind}.")]
            raise UserError(
                f"unknown address {target!r}: nothing of that name is declared for {environment}, "
                f"recorded in its state or planned{suggest(target.rstrip('*'), same_kind)}",
                code=plan_rules.UNKNOWN_TARGET.code,
            )


def _addresses(applied: Mapping[str, Any], desired: Mapping[str, Any], changes: Iterable[Change]) -> set[str]:
    out = {address(c) for c in changes}
    for kind, section in ADDRESS_KINDS.items():
        for state in (applied, desired):
            out.update(f"{kind}.{key}" for key in state.get(section) or {})
    return out
