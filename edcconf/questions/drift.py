"""Drift: what the live systems hold against what edcconf last applied (where a provider can read).

Only the `redcap` provider reads live access; `csv` targets write files an administrator uploads and
cannot be read back, so they are listed as not checked rather than silently taken as in step.

A study whose target reads live access but whose read failed (token variable unset, REDCap down or
refusing) is *unread*: its access is unknown, which is not an all-clear. drift, compliance --live and
plan's refresh refuse (exit 1, naming each unread study and why) unless the user passes --allow-unread;
then they go on, warn of each unread study and never say "no drift" without saying what was not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ..diagnostics import Loc, UserError, error, warning
from ..interchange import redcap_versions as rv
from ..model import Environment
from ..parallel import run_ordered
from ..plan import Change
from ..providers import reads_live
from ..providers.redcap_records import Unsayable, differences, expected_record
from ..resolve.effective import expand_grant

ABSENT = "(not in the project)"
UNMANAGED = "(not managed by edcconf)"
UNREAD = "live-unread"  # the refusal when a study whose target reads live access could not be read


@dataclass(frozen=True)
class Difference:
    study: str
    user: str
    right: str
    expected: object
    live: object

    def to_json(self) -> dict:
        return {
            "study": self.study,
            "user": self.user,
            "right": self.right,
            "expected": self.expected,
            "live": self.live,
        }


@dataclass(frozen=True)
class DriftReport:
    environment: str
    serial: int
    lineage: str | None
    differences: tuple[Difference, ...]
    checked: tuple[str, ...]  # studies read live
    unchecked: tuple[tuple[str, str], ...]  # (study, why not) of every study not read live, in study order
    unread: tuple[tuple[str, str], ...] = ()  # of those, the studies whose target reads live but could not

    @property
    def not_checked(self) -> tuple[tuple[str, str], ...]:
        """The studies not read by design: their target (csv) cannot read live access."""
        return tuple(u for u in self.unchecked if u not in self.unread)

    def to_json(self) -> dict:
        """`unchecked` lists every study not read live (as it always has); `unread` is its subset whose
        target should have read it and could not (the studies that make drift exit 1)."""
        return {
            "format_version": 1,
            "environment": self.environment,
            "state": {"serial": self.serial, "lineage": self.lineage},
            "differences": [d.to_json() for d in self.differences],
            "checked": list(self.checked),
            "unchecked": [{"what": w, "reason": r} for w, r in self.unchecked],
            "unread": [{"study": s, "reason": r} for s, r in self.unread],
        }


def study_drift(provider, study: str, effective: Mapping, ignore: frozenset[str] = frozenset()) -> list[Difference]:
    """Every difference between one REDCap project's users and the applied grants of its study."""
    raw = provider.read_users_raw(study)  # read once: the records compared and the fields not modelled
    live = provider.read_live(study, raw)
    dags = provider.read_dags(study)
    version = provider.read_version(study)
    sites = list(effective.get("studies", {}).get(study, {}).get("sites", []))
    roles = effective.get("roles", {})
    grants = {g["user"]: g for g in effective.get("grants", {}).values() if g.get("study") == study}
    in_role, labels = provider.read_user_roles(study)
    out: list[Difference] = []
    for user in sorted(set(grants) | set(live)):
        if user in ignore:
            continue
        if user not in live:
            out.append(Difference(study, user, "user", "in the project", ABSENT))
            continue
        if user not in grants:
            out.append(Difference(study, user, "user", ABSENT, "in the project"))
            continue
        grant = grants[user]
        try:
            want = expected_record(grant, roles.get(grant.get("role_ref"), {}), sites, dags, version)
        except Unsayable as exc:
            out.append(Difference(study, user, "rights", str(exc), "(cannot be compared)"))
            continue
        out += [Difference(study, user, field, exp, got) for field, exp, got in differences(want, live[user])]
        role = in_role.get(user, "")
        spec = (roles.get(grant.get("role_ref")) or {}).get("redcap_role") or {}
        same_role = role == want.role or (spec and not want.role and labels.get(role) == spec.get("label"))
        if not same_role:
            out.append(Difference(study, user, "user_role", _role_text(want.role, labels), _role_text(role, labels)))
    for user, field, value in unmanaged_fields(raw, ignore):
        out.append(Difference(study, user, field, UNMANAGED, value))
    return out


def _role_text(role: str, labels: Mapping[str, str]) -> str:
    if not role:
        return "(none: rights set per user)"
    return f"{role} ({labels[role]})" if labels.get(role) else role


_KNOWN_FIELDS = frozenset(
    ("username", "expiration", "data_access_group", "forms", "forms_export", "data_export")
    + tuple(rv.INFO_FIELDS)
    + tuple(f for f, _, _ in rv.API_FIELDS)
)


def unmanaged_fields(raw_users: list, ignore: frozenset[str] = frozenset()) -> list[tuple[str, str, object]]:
    """Rights a REDCap export shows that edcconf has no model of (a newer version's field) and that are
    set: reported, so that nothing granted by hand is invisible."""
    out = []
    for raw in raw_users:
        user = str(raw.get("username") or "")
        if not user or user in ignore:
            continue
        for field, value in raw.items():
            if field not in _KNOWN_FIELDS and value not in (None, "", 0, "0", [], {}):
                out.append((user, field, value))
    return out


@dataclass(frozen=True)
class LiveReads:
    """What reading each study's live access gave: a value per study read, the studies not read by design
    and the studies whose read failed, each with why."""

    read: dict
    unchecked: tuple[tuple[str, str], ...]  # every study not read, in study order (unread included)
    unread: tuple[tuple[str, str], ...]  # the target reads live access, but this read failed


def read_each(
    root: Path,
    environment: Environment,
    studies: Mapping[str, Mapping],
    read,
    env_vars: Mapping[str, str] | None = None,
) -> LiveReads:
    """read(provider, study) for each study whose target reads live access, up to --parallelism studies at
    once (edcconf.parallel), the results in study order whatever the order they came in; one provider serves
    every study. A read refused with a UserError (no token, REDCap unreachable or refusing, a target that
    cannot be used) makes that study unread rather than ending the run: the caller decides."""
    from ..providers.redcap import RedcapProvider, redcap_projects  # local: keeps start-up fast

    provider: list = []  # made once, for the first study that needs it (its failure: every such study's)

    def one(item: tuple[str, Mapping], _stop) -> tuple[str, object, str | None]:
        study, value = item
        try:
            return "read", read(provider_for(value), study), None
        except UserError as exc:
            return "unread", None, exc.message

    def provider_for(value: Mapping):
        if not provider:
            provider.append(
                RedcapProvider(
                    environment.targets[str(value.get("system"))],
                    redcap_projects(root),
                    environment.name,
                    {s: v.get("sites", []) for s, v in studies.items()},
                    env_vars,
                )
            )
        return provider[0]

    done: dict = {}
    unchecked: list[tuple[str, str]] = []
    unread: list[tuple[str, str]] = []
    live: list[tuple[str, Mapping]] = []
    for study, value in sorted(studies.items()):
        system = str(value.get("system"))
        target = environment.targets.get(system)
        if target is None or target.provider != "redcap":
            why = (
                f"{system} target uses the {target.provider} provider, which cannot read live access"
                if target
                else f"{environment.name} has no target for {system} studies, so nothing reads their live access"
            )
            unchecked.append((study, why))
        else:
            live.append((study, value))
    if live:
        try:
            provider_for(live[0][1])
        except UserError as exc:  # the target cannot be used: no study of it is read
            reads: list[tuple[str, object, str | None]] = [("unread", None, exc.message)] * len(live)
        else:
            reads = run_ordered(live, one, f"read live access in {environment.name}")
        for (study, _), (outcome, got, reason) in zip(live, reads):
            if outcome == "read":
                done[study] = got
            else:
                unread.append((study, str(reason)))
    order = {s: i for i, s in enumerate(sorted(studies))}
    unchecked = sorted(unchecked + unread, key=lambda u: order[u[0]])
    return LiveReads(done, tuple(unchecked), tuple(unread))


def drift(root: Path, environment: Environment, record, env_vars: Mapping[str, str] | None = None) -> DriftReport:
    effective = record.effective
    reads = read_each(
        root,
        environment,
        effective.get("studies", {}),
        lambda provider, study: study_drift(provider, study, effective, provider.unmanaged_users(study)),
        env_vars,
    )
    diffs = tuple(d for found in reads.read.values() for d in found)
    return DriftReport(
        environment.name, record.serial, record.lineage, diffs, tuple(reads.read), reads.unchecked, reads.unread
    )


def value_text(value: object) -> str:
    """A value as the text report shows it: an absent value (JSON null) as a word, never Python's `None`."""
    return "(not set)" if value is None else str(value)


def studies_text(n: int) -> str:
    return f"{n} stud{'y' if n == 1 else 'ies'}"


def refuse_unread(environment: str, unread, hint: str = "") -> None:
    """A provider that should have read live access and could not: an error naming each study and why
    (exit 1), for the commands that were not given --allow-unread."""

    if not unread:
        return
    raise UserError(
        f"live access of {studies_text(len(unread))} of {environment} could not be read "
        f"({', '.join(s for s, _ in unread)}), so it is not known to match; fix the cause above, or "
        f"pass --allow-unread to go on without {'it' if len(unread) == 1 else 'them'}{hint}",
        [error(UNREAD, f"{study}: {why}", Loc("<live>"), study=study, reason=why) for study, why in unread],
        code=UNREAD,
    )


def refresh(
    plan,
    environment: Environment,
    previous,
    desired_state: Mapping,
    root: Path,
    env_vars: Mapping[str, str] | None = None,
    allow_unread: bool = False,
):
    """Terraform's refresh: read live access before planning, so that a change made by hand in an EDC
    system shows up as a warning and as a change that restores the declared access. A study that could
    not be read is an error (the plan could not restore its drift), or with allow_unread a warning."""

    if not reads_live(environment):
        return plan
    report = drift(root, environment, previous, env_vars)
    if not allow_unread:
        refuse_unread(environment.name, report.unread, " (or --no-refresh to plan without reading live access)")
    warnings = [
        warning(
            "drift-unchecked",
            f"live access of {what} NOT read (--allow-unread): {why}; its drift is "
            "unknown and this plan does not restore it",
            Loc("<live>"),
            study=what,
            reason=why,
        )
        for what, why in report.unread
    ]
    planned = {c.key for c in plan.changes if c.kind == "grant"}
    by_key: dict[str, list[Difference]] = {}
    for d in report.differences:
        by_key.setdefault(f"{d.study}/{d.user}", []).append(d)
    extra: list[Change] = []
    want, have = desired_state.get("grants", {}), previous.effective.get("grants", {})
    for key, diffs in sorted(by_key.items()):
        lines = tuple(f"{d.right}: live {value_text(d.live)}, applied {value_text(d.expected)}" for d in diffs)
        warnings.append(
            warning("drift", f"{key} was changed in REDCap outside edcconf: {'; '.join(lines)}", Loc("<live>"))
        )
        if key in planned:
            continue  # the planned change sends the whole record anyway
        if all(d.expected == UNMANAGED for d in diffs):
            continue  # a right edcconf has no field for: warned above, never "restored" by a change that cannot
        study = diffs[0].study
        if key in want:
            stored = want[key]
            extra.append(
                Change(
                    "update",
                    "grant",
                    key,
                    expand_grant(previous.effective, have.get(key)),
                    expand_grant(desired_state, stored),
                    "restore access changed in REDCap outside edcconf",
                    "<live>",
                    study=study,
                    details=lines,
                    stored=stored,
                    role=(stored["role_ref"], desired_state["roles"][stored["role_ref"]]),
                )
            )
        elif key not in have:
            extra.append(
                Change(
                    "revoke",
                    "grant",
                    key,
                    _live_only(study, diffs[0].user),
                    None,
                    "in the REDCap project but not declared (added outside edcconf)",
                    "<live>",
                    study=study,
                    details=lines,
                )
            )
    return replace(plan, changes=plan.changes + tuple(extra), warnings=plan.warnings + tuple(warnings))


def _live_only(study: str, user: str) -> dict:
    """A grant-shaped value for a user found live that edcconf never granted (what the plan revokes)."""
    return {
        "study": study,
        "user": user,
        "role": "(set by hand in REDCap)",
        "base_role": None,
        "sites": [],
        "site_access": "sites",
        "expires": None,
        "forms": {},
        "close_queries": [],
        "sdv": [],
    }
