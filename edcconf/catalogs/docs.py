"""Render docs/catalogs.md from the catalog data: `python -m edcconf.catalogs.docs > docs/catalogs.md`.

A test regenerates it and fails when the committed file differs, so the two never disagree."""

from __future__ import annotations

from . import RIGHTS, SYSTEMS, catalog

_YES = {True: "yes", False: "no"}


def render() -> str:
    out = [
        "# Role catalogs",
        "",
        "Generated from `edcconf/catalogs/*.yaml` by `python -m edcconf.catalogs.docs`; do not edit by hand.",
        "",
        "Custom roles derive from a base role of their study's system (`roles: {id: {base: ...}}`) and may",
        "override the untagged default (`default:`), tag levels (`tags:`), contact forms (`contact_forms:`) and,",
        "in REDCap studies, exact right keys (`redcap:`).",
        "",
        "## Generic rights (every system)",
        "",
        "| right | values, lowest first |",
        "|---|---|",
    ]
    out += [f"| `{right}` | {' < '.join(values)} |" for right, values in RIGHTS.items()]
    for system in SYSTEMS:
        cat = catalog(system)
        if cat is None:
            continue
        out += [
            "",
            f"## {cat.label} (`system: {system}`)",
            "",
            f"Form levels: {', '.join(cat.levels)}. Site scopes: {', '.join(cat.site_scopes)}.",
            "",
            "| id | label | level | untagged forms | contact forms | close queries | SDV | manages study | rights |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for role in cat.roles.values():
            rights = ", ".join(f"{k} {v}" for k, v in role.rights.items())
            if role.redcap:
                rights = ", ".join(f"`{k}`={v}" for k, v in role.redcap.items())
            out.append(
                f"| `{role.id}` | {role.label} | {role.scope} | {role.untagged} | {role.contact} | "
                f"{_YES[role.close_queries]} | {_YES[role.sdv]} | {_YES[role.manages_study]} | {rights or '—'} |"
            )
        if cat.right_keys:
            out += [
                "",
                "REDCap right keys (SAG import names) and their values, lowest first "
                "(`user_rights`: 0 no access < 2 read only < 1 view & edit):",
                "",
                "| key | values |",
                "|---|---|",
            ]
            out += [f"| `{k}` | {' < '.join(map(str, v))} |" for k, v in cat.right_keys.items()]
            out += [
                "",
                "How a generic right bounds REDCap keys (a role's generic right is the lowest value "
                "whose bounds it fits):",
                "",
                "| right | value | REDCap keys at most |",
                "|---|---|---|",
            ]
            for right, values in cat.generic.items():
                for value, bounds in values.items():
                    out.append(f"| `{right}` | {value} | {', '.join(f'`{k}`={v}' for k, v in bounds.items())} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
