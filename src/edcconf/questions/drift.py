"""Drift: what the live systems hold against what edcconf last applied (where a provider can read).

Only the `redcap` provider reads live access; `csv` targets write files an administrator uploads and
cannot be read back, so they are listed as not checked rather than silently taken as in step.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ..model import Environment
from ..interchange import redcap_versions as rv
from ..providers.redcap_records import Unsayable, differences, expected_record

ABSENT = "(not in the project)"


@dataclass(frozen=True)
class Difference:
    study: str
    user: str
    right: str
    expected: object
    live: object

    def to_json(self) -> dict:
        return {"study": self.study, "user": self.user, "right": self.right, "expected": self.expected,
                "live": self.live}


@dataclass(frozen=True)
class DriftReport:
    environment: str
    serial: int
    lineage: str | None
    differences: tuple[Difference, ...]
    checked: tuple[str, ...]               # studies read live
    unchecked: tuple[tuple[str, str], ...]  # (study or system, why not)
    failed: tuple[str, ...] = ()            # of those, studies whose provider could read but did not

    def to_json(self) -> dict:
        return {"format_version": 1, "environment": self.environment,
                "state": {"serial": self.serial, "lineage": self.lineage},
                "differences": [d.to_json() for d in self.differences], "checked": list(self.checked),
                "unchecked": [{"what": w, "reason": r} for w, r in self.unchecked]}


def study_drift(provider, study: str, effective: Mapping, ignore: frozenset[str] = frozenset()) -> list[Difference]:
    """Every difference between one REDCap project's users and the applied grants of its study."""
    live = provider.read_live(study)
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
        if in_role.get(user, "") != want.role:
            role = in_role.get(user, "")
            out.append(Difference(study, user, "user_role", _role_text(want.role, labels),
                                  _role_text(role, labels)))
    for user, field, value in unmanaged_fields(provider.read_users_raw(study), ignore):
        out.append(Difference(study, user, field, "(not managed by edcconf)", value))
    return out


def _role_text(role: str, labels: Mapping[str, str]) -> str:
    if not role:
        return "(none: rights set per user)"
    return f"{role} ({labels[role]})" if labels.get(role) else role


_KNOWN_FIELDS = frozenset(("username", "expiration", "data_access_group", "forms", "forms_export", "data_export")
                          + tuple(rv.INFO_FIELDS) + tuple(f for f, _, _ in rv.API_FIELDS))


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


def readable_studies(root: Path, environment: Environment, studies: Mapping[str, Mapping],
                     env_vars: Mapping[str, str] | None = None):
    """(study, provider, None) for each study whose target reads live access, (study, None, why not) for
    the others, in study order; one provider serves every study."""
    from ..providers.redcap import RedcapProvider, redcap_projects

    provider = None
    for study, value in sorted(studies.items()):
        target = environment.targets.get(value.get("system"))
        if target is None or target.provider != "redcap":
            how = target.provider if target else "no"
            yield study, None, f"{value.get('system')} target uses the {how} provider, which cannot read live access"
            continue
        provider = provider or RedcapProvider(target, redcap_projects(root), environment.name,
                                              {s: v.get("sites", []) for s, v in studies.items()}, env_vars)
        yield study, provider, None


def drift(root: Path, environment: Environment, record, env_vars: Mapping[str, str] | None = None) -> DriftReport:
    from ..diagnostics import UserError

    effective = record.effective
    diffs: list[Difference] = []
    checked: list[str] = []
    unchecked: list[tuple[str, str]] = []
    failed: list[str] = []
    for study, provider, why in readable_studies(root, environment, effective.get("studies", {}), env_vars):
        if provider is None:
            unchecked.append((study, why))
            continue
        try:
            diffs += study_drift(provider, study, effective, provider.unmanaged_users(study))
        except UserError as exc:
            unchecked.append((study, exc.message))
            failed.append(study)
            continue
        checked.append(study)
    return DriftReport(environment.name, record.serial, record.lineage, tuple(diffs), tuple(checked),
                       tuple(unchecked), tuple(failed))


def render_drift(report: DriftReport) -> str:
    lines = []
    if report.differences:
        lines.append(f"Drift in {report.environment} (state serial {report.serial}): "
                     f"{len(report.differences)} difference(s) between the live systems and the applied state.")
        rows = [("study", "user", "right", "expected", "live")] + [
            (d.study, d.user, d.right, str(d.expected), str(d.live)) for d in report.differences]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.append("Run `edcconf plan` to see the changes that restore the declared access, then apply them.")
    else:
        lines.append(f"No drift in {report.environment}: "
                     f"{len(report.checked)} stud{'y' if len(report.checked) == 1 else 'ies'} read live match the "
                     f"applied state (serial {report.serial}).")
    for what, why in report.unchecked:
        lines.append(f"  not checked: {what}: {why}")
    return "\n".join(lines) + "\n"


def refresh(plan, environment: Environment, previous, desired_state: Mapping, root: Path,
            env_vars: Mapping[str, str] | None = None):
    """Terraform's refresh: read live access before planning, so that a change made by hand in an EDC
    system shows up as a warning and as a change that restores the declared access."""
    from dataclasses import replace

    from ..diagnostics import Loc, warning
    from ..plan import Change
    from ..resolve.effective import expand_grant

    from ..providers import reads_live

    if not reads_live(environment):
        return plan
    report = drift(root, environment, previous, env_vars)
    warnings = [warning("drift-unchecked", f"live access of {what} not read: {why}", Loc("<live>"))
                for what, why in report.unchecked if what in report.failed]
    planned = {c.key for c in plan.changes if c.kind == "grant"}
    by_key: dict[str, list[Difference]] = {}
    for d in report.differences:
        by_key.setdefault(f"{d.study}/{d.user}", []).append(d)
    extra: list[Change] = []
    want, have = desired_state.get("grants", {}), previous.effective.get("grants", {})
    for key, diffs in sorted(by_key.items()):
        lines = tuple(f"{d.right}: live {d.live}, applied {d.expected}" for d in diffs)
        warnings.append(warning("drift", f"{key} was changed in REDCap outside edcconf: {'; '.join(lines)}",
                                Loc("<live>")))
        if key in planned:
            continue  # the planned change sends the whole record anyway
        study = diffs[0].study
        if key in want:
            stored = want[key]
            extra.append(Change("update", "grant", key, expand_grant(previous.effective, have.get(key)),
                                expand_grant(desired_state, stored), "restore access changed in REDCap outside edcconf",
                                "<live>", study=study, details=lines, stored=stored,
                                role=(stored["role_ref"], desired_state["roles"][stored["role_ref"]])))
        elif key not in have:
            extra.append(Change("revoke", "grant", key, _live_only(study, diffs[0].user),
                                None, "in the REDCap project but not declared (added outside edcconf)", "<live>",
                                study=study, details=lines))
    return replace(plan, changes=plan.changes + tuple(extra), warnings=plan.warnings + tuple(warnings))


def _live_only(study: str, user: str) -> dict:
    """A grant-shaped value for a user found live that edcconf never granted (what the plan revokes)."""
    return {"study": study, "user": user, "role": "(set by hand in REDCap)", "base_role": None, "sites": [],
            "site_access": "sites", "expires": None, "forms": {}, "close_queries": [], "sdv": []}


def live_rights(record, contact_forms: set[str]) -> dict:
    """A live REDCap user as a role value (generic rights and SAG keys), for compliance over live access."""
    from ..catalogs import RIGHTS, catalog
    from ..model import level_rank
    from ..providers.redcap_records import API_TO_SAG, SAG_EXPORT_OF_CODE
    from ..resolve.roles import LEVEL_OF_VIEW

    cat = catalog("redcap")
    sag = {key: 0 for key in cat.right_keys}
    sag.update({API_TO_SAG[f]: v for f, v in record.rights.items() if f in API_TO_SAG})
    views = {f: (v if v is not None else 5) for f, v in record.views().items()}  # an unknown code: the most
    levels = {f: LEVEL_OF_VIEW[v] for f, v in views.items()}
    view = 0
    for v in views.values():
        view = cat.join("dataViewing", view, v)
    sag["dataViewing"] = view
    sag["dataExport"] = max((SAG_EXPORT_OF_CODE.get(c, 3) for c in record.forms_export.values()), default=0)
    rights = {r: cat.generic_from_keys(r, sag) or "none" for r in RIGHTS}
    rights["form_access"] = max(levels.values(), key=level_rank, default="none")
    rights["contact_data"] = max((lvl for f, lvl in levels.items() if f in contact_forms), key=level_rank,
                                 default="none")
    return {"rights": rights, "redcap": sag, "forms": levels}


def live_effective(root: Path, environment: Environment, applied, model) -> tuple[dict, list[tuple[str, str]]]:
    """The applied state with each readable study's grants replaced by what the live system holds."""
    from ..diagnostics import UserError

    effective = {k: dict(v) for k, v in applied.effective.items()}
    studies = {**{s.id: {"system": s.system, "status": s.status, "sites": list(s.sites)} for s in model.studies.values()
                  if environment.name in s.environments}, **effective.get("studies", {})}
    effective["studies"] = studies
    unchecked: list[tuple[str, str]] = []
    live: dict[str, dict] = {}
    read: set[str] = set()
    for study_id, provider, why in readable_studies(root, environment, studies):
        if provider is None:
            unchecked.append((study_id, why))
            continue
        try:
            users = provider.read_live(study_id)
        except UserError as exc:
            unchecked.append((study_id, exc.message))
            continue
        study = model.studies.get(study_id)
        contact = {f.id for f in study.forms if f.contact} if study else set()
        for user, record in users.items():
            ref = f"{study_id}/live:{user}"
            effective["roles"][ref] = live_rights(record, contact)
            live[f"{study_id}/{user}"] = {"study": study_id, "user": user, "role": "(live)",
                                          "expires": record.expiration or None, "role_ref": ref}
        read.add(study_id)
    if not read:
        raise UserError("no study of this environment could be read live: "
                        + "; ".join(f"{s}: {why}" for s, why in unchecked), code="no-live-read")
    effective["grants"] = {**{k: g for k, g in effective.get("grants", {}).items() if g["study"] not in read},
                           **live}
    return effective, unchecked
