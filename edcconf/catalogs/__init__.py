"""Role catalogs of the EDC systems, shipped as package data (one YAML file per system)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

from ..model import FORM_LEVELS, frozen_map

SYSTEMS = ("openclinica", "redcap", "vault")

# Generic rights (docs/catalogs.md): name -> values, lowest first.
RIGHTS: Mapping[str, tuple[str, ...]] = frozen_map(
    {
        "form_access": FORM_LEVELS,
        "contact_data": FORM_LEVELS,
        "data_export": ("none", "de-identified", "no-identifiers", "full"),
        "user_rights": ("none", "read", "full"),
        "design": ("none", "full"),
        "record_delete": ("none", "full"),
        "data_import": ("none", "full"),
        "api": ("none", "export", "full"),
        "lock_records": ("none", "lock", "all"),
    }
)


def right_rank(right: str, value: str) -> int:
    return RIGHTS[right].index(value)


@dataclass(frozen=True)
class BaseRole:
    id: str
    label: str
    scope: str  # study | site | both
    untagged: str
    contact: str
    close_queries: bool
    sdv: bool
    manages_study: bool
    rights: Mapping[str, str]  # generic rights besides form_access/contact_data
    redcap: Mapping[str, int]  # REDCap right keys (REDCap catalog only)

    @property
    def study_level(self) -> bool:
        return self.scope in ("study", "both")

    @property
    def site_level(self) -> bool:
        return self.scope in ("site", "both")


@dataclass(frozen=True)
class Catalog:
    system: str
    label: str
    levels: tuple[str, ...]
    site_scopes: tuple[str, ...]
    roles: Mapping[str, BaseRole]
    raw: Mapping[str, object]
    right_keys: Mapping[str, tuple[int, ...]] = field(default_factory=frozen_map)  # REDCap: key -> values, lowest first
    generic: Mapping[str, Mapping[str, Mapping[str, int]]] = field(
        default_factory=frozen_map
    )  # right -> value -> key bounds
    abilities: Mapping[str, Mapping[int, frozenset]] = field(default_factory=frozen_map)  # key -> value -> abilities

    def key_rank(self, key: str, value: int) -> int:
        """Order of a REDCap value for its key (user_rights: 0 < 2 < 1); unknown values rank highest."""
        order = self.right_keys.get(key, ())
        return order.index(value) if value in order else len(order)

    def key_top(self, key: str) -> int:
        """The value of a key that allows everything the key can say."""
        return self.right_keys[key][-1]

    def allows(self, key: str, granted: int, allowed: int) -> bool:
        """Whether a ceiling of `allowed` admits `granted` for one key. Ability keys (dataViewing) compare
        as sets: 3 (+ edit survey responses) does not admit 4 (+ delete). An unknown value is never admitted."""
        sets = self.abilities.get(key)
        if sets is not None:
            have, may = sets.get(granted), sets.get(allowed)
            return have is not None and may is not None and have <= may
        return self.key_rank(key, granted) <= self.key_rank(key, allowed) < len(self.right_keys.get(key, ()))

    def meet(self, key: str, a: int, b: int) -> int:
        """The highest value both `a` and `b` admit (two bounds on one key, applied together)."""
        sets = self.abilities.get(key)
        if sets is not None:
            common = sets[a] & sets[b]
            return next(v for v, s in sets.items() if s == common)
        return a if self.key_rank(key, a) <= self.key_rank(key, b) else b

    def join(self, key: str, a: int, b: int) -> int:
        """The lowest value that admits both (a role's rights over several forms)."""
        sets = self.abilities.get(key)
        if sets is not None:
            both = sets[a] | sets[b]
            return next(v for v, s in sets.items() if s == both)
        return a if self.key_rank(key, a) >= self.key_rank(key, b) else b

    def key_bounds(self, right: str, value: str) -> Mapping[str, int]:
        """The REDCap key values a generic right's value allows (empty when the system has no keys)."""
        return self.generic.get(right, {}).get(value, {})

    def generic_from_keys(self, right: str, keys: Mapping[str, int]) -> str | None:
        """The lowest generic value of `right` whose key bounds admit `keys`; None if not mapped."""
        values = self.generic.get(right)
        if not values:
            return None
        for value in RIGHTS[right]:
            bounds = values.get(value, {})
            if all(self.allows(k, keys.get(k, 0), v) for k, v in bounds.items()):
                return value
        return RIGHTS[right][-1]


def required_catalog(system: str) -> Catalog:
    """The catalog of a system edcconf supports (a study's system is validated before this is asked)."""
    found = catalog(system)
    if found is None:
        raise LookupError(f"no role catalog ships for system {system!r}")
    return found


@cache  # read once per process: rights are compared per grant (ceilings), and parsing the YAML costs ~2 ms
def catalog(system: str) -> Catalog | None:
    """The catalog of one system, or None when the package ships none for it (immutable: shared)."""
    path = resources.files(__name__) / f"{system}.yaml"
    if not path.is_file():
        return None
    data = yaml.load(path.read_text("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    roles = {
        rid: BaseRole(
            id=rid,
            label=r["label"],
            scope=r["scope"],
            untagged=r["untagged"],
            contact=r["contact"],
            close_queries=bool(r.get("close_queries")),
            sdv=bool(r.get("sdv")),
            manages_study=bool(r.get("manages_study")),
            rights=frozen_map(r.get("rights") or {}),
            redcap=frozen_map(r.get("redcap") or {}),
        )
        for rid, r in data["roles"].items()
    }
    right_keys = {k: tuple(v) for k, v in (data.get("right_keys") or {}).items()}
    generic = {
        r: frozen_map({v: frozen_map(b) for v, b in vals.items()}) for r, vals in (data.get("generic") or {}).items()
    }
    abilities = {
        k: frozen_map({int(v): frozenset(a) for v, a in values.items()})
        for k, values in (data.get("abilities") or {}).items()
    }
    return Catalog(
        system=data["system"],
        label=data["label"],
        levels=tuple(data["levels"]),
        site_scopes=tuple(data.get("site_scopes") or ("sites",)),
        roles=frozen_map(roles),
        raw=frozen_map(data),
        right_keys=frozen_map(right_keys),
        generic=frozen_map(generic),
        abilities=frozen_map(abilities),
    )
