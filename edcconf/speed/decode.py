"""Decoding a stored state into as little memory as the values allow (the state file's format is a
contract: this only changes which Python objects hold its values, never the values). Installed into
state.local (use_decoder) by edcconf.speed.install."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from sys import intern

from ..source.yamlfile import SHARED_MAX


def loads_shared(text: str, like: Mapping[str, Mapping] | None = None) -> object:
    """json.loads(text), with equal values decoded as one object.

    A state repeats a few thousand strings (usernames, study and site ids, role refs, levels) hundreds
    of thousands of times; json shares only the keys. Sharing the values too decodes a state into about
    half the memory, and no slower. `like` is an effective state (the desired one, when planning): a
    grant or role of the decoded state that equals its own is decoded as that very object, so a state
    that matches the configuration is held once, not twice (both are read-only plain JSON values)."""
    memo: dict[str, str] = {}
    keep = memo.setdefault

    def share(value: str) -> str:  # short text interned: shared with the model, and across frames
        return intern(value) if len(value) <= SHARED_MAX else keep(value, value)

    grants = like.get("grants", {}) if like else {}
    roles: dict[object, Mapping] = {}  # one desired value per distinct role value: any equal one will do
    for value in (like.get("roles", {}) if like else {}).values():
        roles.setdefault(_role_key(value), value)

    def shared_values(obj: dict) -> dict:
        for key, value in obj.items():  # replacing values (not keys) while iterating is allowed
            if value.__class__ is str:
                obj[key] = share(value)
            elif value.__class__ is list:
                obj[key] = [share(v) if v.__class__ is str else v for v in value]
        return obj

    if not grants and not roles:  # nothing to match (the prefetch child): no key is worth making
        return json.loads(text, object_hook=shared_values)

    def hook(obj: dict) -> Mapping:
        shared_values(obj)
        if "role_ref" in obj:  # a grant: its key in the grants section is "<study>/<user>[/<role>]"
            key = f"{obj.get('study')}/{obj.get('user')}"
            same = grants.get(key) or grants.get(f"{key}/{obj.get('role')}")
            return same if same == obj else obj
        if "forms" in obj and "base_role" in obj:  # a role's value
            same = roles.get(_role_key(obj))
            return same if same == obj else obj
        return obj

    return json.loads(text, object_hook=hook)


def shared_items(items: list[tuple[str, object]], desired: Mapping[str, object]) -> Iterator[tuple[str, object]]:
    """A decoded state's (key, value) items of one section (its grants, or its roles), each value that equals
    the desired state's value under the same key replaced by that very object (a role ref names its value's
    digest: the same ref, the same value). What loads_shared(text, like) does while decoding, after the fact,
    for a state decoded elsewhere (speed/prefetch.py)."""
    for key, value in items:
        same = desired.get(key)
        yield (key, same) if same is not None and same == value else (key, value)


def _role_key(value: Mapping) -> object:
    """A role value as a hashable key: equal values written in the same order share it (a state's
    roles repeat few distinct values, so a key of the levels alone made long lists to compare: at
    N=2,000 that search was 6 of a 9 s read). None when the value is not a role's shape."""
    try:
        return tuple((k, _frozen(v)) for k, v in value.items())
    except (TypeError, AttributeError):
        return None


def _frozen(v: object) -> object:
    """A hashable stand-in for a plain JSON value (a REDCap role's redcap_forms nest mappings)."""
    if isinstance(v, dict):
        return tuple((k, _frozen(x)) for k, x in v.items())
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    return v
