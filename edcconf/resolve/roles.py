"""Effective roles: a study's role (base or custom) turned into a level on every form (seed 001).

Rules, in order of precedence for one form:
1. a tagged form follows its tags: the highest level the role grants any of them, else `none`
   (a tag takes precedence over the contact-form default and over `contact_forms:`);
2. a contact form: the role's `contact_forms:` if set, else the base role's contact level
   (edit for CRC and Investigator, none for the others);
3. an untagged form: the custom role's `default:` if set, else the base role's untagged default.
Levels are computed once per role and study and shared by every grant of that role.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from ..catalogs import RIGHTS, BaseRole, Catalog
from ..diagnostics import Loc
from ..model import FORM_LEVELS, LEVEL_RANK, Form, Role, Study, level_rank


@dataclass(frozen=True)
class FormRule:
    """Why a role has its level on a form: the rule's wording and where it was declared."""

    level: str
    rule: str
    loc: Loc | None


@dataclass(frozen=True)
class EffectiveRole:
    study: str
    id: str
    base: BaseRole
    custom: Role | None
    forms: Mapping[str, str]  # form id -> level, every form of the study
    close_queries: tuple[str, ...]  # forms where queries can be closed (review+ and the ability)
    sdv: tuple[str, ...]  # forms that can be source-data verified (read+ and the ability)
    rights: Mapping[str, str]  # generic rights (docs/catalogs.md)
    redcap: Mapping[str, int]  # REDCap right keys, for REDCap studies
    study_forms: tuple[Form, ...] = field(repr=False)  # the study's forms, to say why (rules) when asked
    # the plain state value: its forms, rights and redcap are the dicts the views above show (one copy)
    value: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.study}/{self.id}"

    @property
    def loc(self) -> Loc | None:
        return self.custom.loc if self.custom else None

    @property
    def rules(self) -> Mapping[str, FormRule]:
        """form id -> why. Made when asked (explain, the graph): one reason per form of every role would
        be the largest part of a resolution, and plans never read it."""
        return MappingProxyType({form.id: form_rule(self.base, self.custom, form) for form in self.study_forms})

    @cached_property
    def ref(self) -> str:
        """`study/role#digest`: the role version grants refer to in a state, a digest of its state value.
        Worked out once per role: the environments of a resolve share their roles (0.5 s of a two-environment
        validate at 18,000 roles)."""
        return f"{self.key}#{hashlib.sha256(json.dumps(dict(self.value), sort_keys=True).encode()).hexdigest()[:12]}"

    def state_value(self) -> dict[str, Any]:
        """The plain value stored once per role and study in the effective state. A new dict, but its
        forms, rights and redcap are shared with the role: read-only, like the whole effective state."""
        return dict(self.value)


def form_rule(base: BaseRole, custom: Role | None, form: Form) -> FormRule:
    exact = custom.redcap_forms.get(form.id, {}) if custom is not None else {}
    if custom is not None and "view" in exact:  # (no role: exact is empty)
        view = int(exact["view"])
        return FormRule(
            LEVEL_OF_VIEW[view],
            f"REDCap level {view} (role {custom.id} redcap_forms)",
            custom.locs.get("redcap_forms", custom.loc),
        )
    if form.tags:
        granted = [(custom.tags[t], t) for t in form.tags if custom is not None and t in custom.tags]
        if custom is not None and granted:  # (no role: granted is empty)
            level, tag = max(granted, key=lambda lt: level_rank(lt[0]))
            return FormRule(level, f"tag {tag}: {level} (role {custom.id})", custom.locs.get("tags", custom.loc))
        tags = ", ".join(form.tags)
        return FormRule("none", f"tagged form ({tags}): none unless the role grants the tag", form.loc)
    if form.contact:
        if custom is not None and custom.contact_forms is not None:
            return FormRule(
                custom.contact_forms,
                f"contact form: contact_forms {custom.contact_forms} (role {custom.id})",
                custom.locs.get("contact_forms", custom.loc),
            )
        return FormRule(base.contact, f"contact form: {base.contact} for base role {base.id}", form.loc)
    if custom is not None and custom.default is not None:
        return FormRule(
            custom.default,
            f"untagged form: default {custom.default} (role {custom.id})",
            custom.locs.get("default", custom.loc),
        )
    return FormRule(base.untagged, f"untagged form: base role {base.id} default {base.untagged}", None)


def form_level(base: BaseRole, custom: Role | None, form: Form) -> str:
    """form_rule's level alone: no reason, no position (reading a position unpacks the file's records)."""
    if form.tags:
        granted = [custom.tags[t] for t in form.tags if custom is not None and t in custom.tags]
        return max(granted, key=level_rank) if granted else "none"
    if form.contact:
        return custom.contact_forms if custom is not None and custom.contact_forms is not None else base.contact
    return custom.default if custom is not None and custom.default is not None else base.untagged


def effective_role(study: Study, cat: Catalog, role_id: str) -> EffectiveRole | None:
    custom = study.roles.get(role_id)
    base = cat.roles.get(custom.base if custom else role_id)
    if base is None:
        return None
    # a form's level depends on its tags and contact flag only (form_rule): once per kind of form
    by_kind: dict[tuple[Any, ...], str] = {}
    forms = {}
    for form in study.forms:
        kind = (form.tags, form.contact)
        level = by_kind.get(kind)
        if level is None:
            level = by_kind[kind] = form_level(base, custom, form)
        forms[form.id] = level
    redcap_forms: dict[str, dict[str, int]] = {}
    if cat.right_keys:
        redcap_forms = per_form_rights(cat, base, custom, forms)
        if custom is not None and custom.redcap_forms:  # exact REDCap levels decide the generic level too
            forms.update({f: LEVEL_OF_VIEW[v["view"]] for f, v in redcap_forms.items()})
    close = tuple(f for f, lvl in forms.items() if LEVEL_RANK[lvl] >= _REVIEW) if base.close_queries else ()
    sdv = tuple(f for f, lvl in forms.items() if LEVEL_RANK[lvl] >= _READ) if base.sdv else ()
    redcap = redcap_rights(cat, base, custom, redcap_forms) if cat.right_keys else {}
    rights = generic_rights(cat, base, study.forms, forms, redcap)
    value = {"base_role": base.id, "forms": forms, "close_queries": list(close), "sdv": list(sdv), "rights": rights}
    if redcap:
        value["redcap"] = redcap
    if custom is not None and custom.redcap_forms:
        value["redcap_forms"] = redcap_forms  # only where declared: every other role's value is unchanged
    if custom is not None and custom.redcap_role:
        value["redcap_role"] = dict(custom.redcap_role)
    # the dicts are new and only reachable read-only from here: the views need no copies of their own
    return EffectiveRole(
        study.id,
        role_id,
        base,
        custom,
        MappingProxyType(forms),
        close,
        sdv,
        MappingProxyType(rights),
        MappingProxyType(redcap),
        study.forms,
        MappingProxyType(value),
    )


_REVIEW, _READ = LEVEL_RANK["review"], LEVEL_RANK["read"]

# REDCap's data viewing level (SAG dataViewing: 0 no access, 1 read only, 2 view & edit, 3-5 with edit
# survey responses and/or delete) that a generic form level gives, and the generic level of each.
VIEWING_OF_LEVEL = {"none": 0, "read": 1, "review": 1, "edit": 2}
LEVEL_OF_VIEW = {0: "none", 1: "read", 2: "edit", 3: "edit", 4: "edit", 5: "edit"}


def declared_export(base: BaseRole, custom: Role | None) -> int:
    if custom is not None and "dataExport" in custom.redcap:
        return int(custom.redcap["dataExport"])
    return int(base.redcap.get("dataExport", 0))


def default_form_rights(levels: Mapping[str, str], export: int) -> dict[str, dict[str, int]]:
    """form -> {view, export} from generic levels: the level's viewing, the role's export where it sees."""
    return {
        f: {"view": VIEWING_OF_LEVEL.get(lvl, 0), "export": export if lvl != "none" else 0} for f, lvl in levels.items()
    }


def per_form_rights(
    cat: Catalog, base: BaseRole, custom: Role | None, levels: Mapping[str, str]
) -> dict[str, dict[str, int]]:
    """Each form's REDCap viewing and export level: from its generic level (export: the role's dataExport
    on every form it can see), unless the role's `redcap_forms` states them exactly."""
    out = default_form_rights(levels, declared_export(base, custom))
    if custom is not None:
        for form, exact in custom.redcap_forms.items():
            if form in out:
                out[form] = {**out[form], **{k: int(v) for k, v in exact.items()}}
                if "view" in exact and "export" not in exact and exact["view"] == 0:
                    out[form]["export"] = 0
    return out


def redcap_rights(
    cat: Catalog, base: BaseRole, custom: Role | None, forms: Mapping[str, Mapping[str, int]]
) -> dict[str, int]:
    """Every REDCap right key of a role: the base role's, the custom role's overrides, and dataViewing and
    dataExport as the highest over its forms (so a SAG ceiling on them bounds every form)."""
    rights = {key: 0 for key in cat.right_keys}
    rights.update(base.redcap)
    if custom is not None:
        rights.update(custom.redcap)
    # the join of every form's viewing: each distinct value once (a lattice's join ignores repeats and
    # order; 50 forms a role made 600,000 joins of two or three values at N = 2,000)
    view = 0
    for value in sorted({f["view"] for f in forms.values()}):
        view = cat.join("dataViewing", view, value)
    rights["dataViewing"] = view
    rights["dataExport"] = max([rights.get("dataExport", 0)] + [f["export"] for f in forms.values()])
    return rights


def generic_rights(
    cat: Catalog, base: BaseRole, forms: tuple[Form, ...], levels: Mapping[str, str], redcap: Mapping[str, int]
) -> dict[str, str]:
    """Every generic right of a role: form_access and contact_data from the form levels; the rest from
    the REDCap keys where the system has them, else from the base role (unnamed rights are none)."""
    rights = {name: "none" for name in RIGHTS}
    rights.update(base.rights)
    if redcap:
        rights.update(_derived_from_keys(cat, redcap))
    rights["form_access"] = max((levels[f.id] for f in forms), key=LEVEL_RANK.__getitem__, default="none")
    rights["contact_data"] = max((levels[f.id] for f in forms if f.contact), key=LEVEL_RANK.__getitem__, default="none")
    return rights


_DERIVED: dict[tuple[Any, ...], dict[str, str]] = {}


def _derived_from_keys(cat: Catalog, redcap: Mapping[str, int]) -> dict[str, str]:
    """The generic rights a set of REDCap key values implies. Studies repeat the same few roles, so
    this is kept per catalog and set of values (catalogs are loaded once per process)."""
    key = (id(cat), tuple(redcap.items()))
    found = _DERIVED.get(key)
    if found is None:
        found = _DERIVED[key] = {
            right: derived for right in RIGHTS if (derived := cat.generic_from_keys(right, redcap)) is not None
        }
    return found


def roles_of_study(study: Study, cat: Catalog) -> dict[str, EffectiveRole]:
    """Effective roles for every role the study grants (levels computed once per role and study)."""
    out: dict[str, EffectiveRole] = {}
    for grant in study.access:
        if grant.role not in out:
            role = effective_role(study, cat, grant.role)
            if role is not None:
                out[grant.role] = role
    return out


__all__ = ["EffectiveRole", "FormRule", "FORM_LEVELS", "effective_role", "roles_of_study"]
