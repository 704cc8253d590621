"""Build the `access_policies:` declarations (separation of duties, docs/policies.md) into the model.

The schema has checked each policy's keys for its kind; here: ids unique in the configuration, an
`exclusive` policy names roles or tags (one of the two), and every role, tag and right it names exists
(rules.access_policies: fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..diagnostics import Diagnostic, error
from ..model import AccessPolicy, Study
from ..rules import files as files_rules
from ..rules.access_policies import check_policy_names
from ..source.yamlfile import ParsedFile
from .nodes import _Registry, declarations


def access_policies(
    files: tuple[ParsedFile, ...], problems: list[Diagnostic], studies: Mapping[str, Study]
) -> tuple[AccessPolicy, ...]:
    out: list[AccessPolicy] = []
    ids = _Registry("access policy", problems)
    for node in declarations(files, "access_policies"):
        v = node.value
        if not ids.claim(v.get("id"), node, "id"):
            continue
        kind = v.get("kind")
        if kind == "exclusive" and ("roles" in v) == ("tags" in v):
            problems.append(
                error(
                    files_rules.SCHEMA.code,
                    f"exclusive policy {v.get('id')} names either roles or tags (a list of two or more), "
                    "not both and not neither",
                    node.loc,
                )
            )
            continue
        out.append(
            AccessPolicy(
                id=v.get("id"),
                kind=kind,
                description=v.get("description"),
                enforcement=v.get("enforcement", "error"),
                studies=tuple(v.get("studies") or ()),
                loc=node.loc,
                roles=tuple(v.get("roles") or ()),
                tags=tuple(v.get("tags") or ()),
                scope=v.get("scope", "study"),
                right=v.get("right"),
                at_least=v.get("at_least"),
                max=v.get("max"),
                requires=v.get("requires"),
                locs=node.locs(),
            )
        )
    problems.extend(check_policy_names(out, studies))
    return tuple(out)
