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

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from ..catalogs import RIGHTS, BaseRole, Catalog, right_rank
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
    forms: Mapping[str, str]          # form id -> level, every form of the study
    close_queries: tuple[str, ...]    # forms where queries can be closed (review+ and the ability)
    sdv: tuple[str, ...]              # forms that can be source-data verified (read+ and the ability)
    rights: Mapping[str, str]         # generic rights (DESIGN §7)
    redcap: Mapping[str, int]         # REDCap right keys, for REDCap studies
    study_forms: tuple[Form, ...] = field(repr=False)  # the study's forms, to say why (rules) when asked
    # the plain state value: its forms, rights and redcap are the dicts the views above show (one copy)
    value: Mapping[str, object] = field(repr=False, compare=False)

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

    def state_value(self) -> dict:
        """The plain value stored once per role and study in the effective state. A new dict, but its
        forms, rights and redcap are shared with the role: read-only, like the whole effective state."""
        return dict(self.value)


def form_rule(base: BaseRole, custom: Role | None, form: Form) -> FormRule:
    if form.tags:
        granted = [(custom.tags[t], t) for t in form.tags if custom is not None and t in custom.tags]
        if granted:
            level, tag = max(granted, key=lambda lt: level_rank(lt[0]))
            return FormRule(level, f"tag {tag}: {level} (role {custom.id})", custom.locs.get("tags", custom.loc))
        tags = ", ".join(form.tags)
        return FormRule("none", f"tagged form ({tags}): none unless the role grants the tag", form.loc)
    if form.contact:
        if custom is not None and custom.contact_forms is not None:
            return FormRule(custom.contact_forms, f"contact form: contact_forms {custom.contact_forms} "
                            f"(role {custom.id})", custom.locs.get("contact_forms", custom.loc))
        return FormRule(base.contact, f"contact form: {base.contact} for base role {base.id}", form.loc)
    if custom is not None and custom.default is not None:
        return FormRule(custom.default, f"untagged form: default {custom.default} (role {custom.id})",
                        custom.locs.get("default", custom.loc))
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
    by_kind: dict[tuple, str] = {}
    forms = {}
    for form in study.forms:
        kind = (form.tags, form.contact)
        level = by_kind.get(kind)
        if level is None:
            level = by_kind[kind] = form_level(base, custom, form)
        forms[form.id] = level
    close = tuple(f for f, lvl in forms.items() if LEVEL_RANK[lvl] >= _REVIEW) if base.close_queries else ()
    sdv = tuple(f for f, lvl in forms.items() if LEVEL_RANK[lvl] >= _READ) if base.sdv else ()
    redcap = redcap_rights(cat, base, custom, forms) if cat.right_keys else {}
    rights = generic_rights(cat, base, study.forms, forms, redcap)
    value = {"base_role": base.id, "forms": forms, "close_queries": list(close), "sdv": list(sdv), "rights": rights}
    if redcap:
        value["redcap"] = redcap
    # the dicts are new and only reachable read-only from here: the views need no copies of their own
    return EffectiveRole(study.id, role_id, base, custom, MappingProxyType(forms), close, sdv,
                         MappingProxyType(rights), MappingProxyType(redcap), study.forms, MappingProxyType(value))


_REVIEW, _READ = LEVEL_RANK["review"], LEVEL_RANK["read"]

# REDCap's dataViewing ceiling value that a per-form level needs (0 no access, 1 read only, 2 view & edit).
VIEWING_OF_LEVEL = {"none": 0, "read": 1, "review": 1, "edit": 2}


def redcap_rights(cat: Catalog, base: BaseRole, custom: Role | None, levels: Mapping[str, str]) -> dict[str, int]:
    """Every REDCap right key of a role: the base role's, the custom role's overrides, and dataViewing
    from the highest form level (so a SAG ceiling on dataViewing bounds the form levels)."""
    rights = {key: 0 for key in cat.right_keys}
    rights.update(base.redcap)
    if custom is not None:
        rights.update(custom.redcap)
    rights["dataViewing"] = max((VIEWING_OF_LEVEL[lvl] for lvl in levels.values()), default=0)
    return rights


def generic_rights(cat: Catalog, base: BaseRole, forms: tuple[Form, ...], levels: Mapping[str, str],
                   redcap: Mapping[str, int]) -> dict[str, str]:
    """Every generic right of a role: form_access and contact_data from the form levels; the rest from
    the REDCap keys where the system has them, else from the base role (unnamed rights are none)."""
    rights = {name: "none" for name in RIGHTS}
    rights.update(base.rights)
    if redcap:
        rights.update(_derived_from_keys(cat, redcap))
    rights["form_access"] = max((levels[f.id] for f in forms), key=LEVEL_RANK.__getitem__, default="none")
    rights["contact_data"] = max((levels[f.id] for f in forms if f.contact), key=LEVEL_RANK.__getitem__,
                                 default="none")
    return rights


_DERIVED: dict[tuple, dict[str, str]] = {}


def _derived_from_keys(cat: Catalog, redcap: Mapping[str, int]) -> dict[str, str]:
    """The generic rights a set of REDCap key values implies. Studies repeat the same few roles, so
    this is kept per catalog and set of values (catalogs are loaded once per process)."""
    key = (id(cat), tuple(redcap.items()))
    found = _DERIVED.get(key)
    if found is None:
        found = _DERIVED[key] = {right: derived for right in RIGHTS
                                 if (derived := cat.generic_from_keys(right, redcap)) is not None}
    return found


def exceeds(right: str, granted: str, allowed: str) -> bool:
    return right_rank(right, granted) > right_rank(right, allowed)


def roles_of_study(study: Study, cat: Catalog) -> dict[str, EffectiveRole]:
    """Effective roles for every role the study grants (levels computed once per role and study)."""
    out: dict[str, EffectiveRole] = {}
    for grant in study.access:
        if grant.role not in out:
            role = effective_role(study, cat, grant.role)
            if role is not None:
                out[grant.role] = role
    return out


__all__ = ["EffectiveRole", "FormRule", "FORM_LEVELS", "effective_role", "roles_of_study", "exceeds"]
