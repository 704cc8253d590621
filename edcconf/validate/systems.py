"""The system checks that need more than the declarations: a target's `out:` path on the file system, and
the rights each REDCap role resolves to against the REDCap version of each target. The rules themselves
(codes, texts) are registered in edcconf.rules.systems and edcconf.rules.files; these checks live here
because they need edcconf.resolve and the file system, which sit above the rules."""

from __future__ import annotations

from ..catalogs import Catalog, catalog
from ..catalogs import redcap_versions as rv
from ..diagnostics import Diagnostic, UserError, error
from ..model import Environment, Model, Study
from ..providers.base import inside
from ..resolve.roles import effective_role
from ..rules import files as files_rules
from ..rules import systems as systems_rules


def check_targets_and_versions(model: Model) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for env in model.environments.values():
        out.extend(_target_paths(model, env))
    for study in model.studies.values():
        cat = catalog(study.system)
        if cat is not None and study.system == "redcap":
            out.extend(_sayable_rights(model, study, cat))
    return out


def _target_paths(model: Model, env: Environment) -> list[Diagnostic]:
    """A target's `out:` stays inside the configuration directory (symlinks followed)."""

    out = []
    for system, target in env.targets.items():
        if target.out is None:
            continue
        try:
            inside(model.root, target.out, f"targets.{system}.out")
        except UserError as exc:
            out.append(error(files_rules.UNSAFE_PATH.code, exc.message, target.loc))
    return out


def _sayable_rights(model: Model, study: Study, cat: Catalog) -> list[Diagnostic]:
    """A REDCap role must hold only rights its project's REDCap version can carry in the user-rights API
    and the User Rights upload: anything else could be neither written nor verified (fail closed)."""

    versions: dict[str, str] = {}
    for env in study.environments:
        target = model.environments[env].targets.get("redcap") if env in model.environments else None
        if target is not None:
            versions.setdefault(target.version or rv.DEFAULT_VERSION, env)
    out = []
    used = {g.role for g in study.access}
    for role_id in sorted(used):
        role = effective_role(study, cat, role_id)
        if role is None:
            continue
        views = {f: v["view"] for f, v in (role.value.get("redcap_forms") or {}).items()}
        for version, env in sorted(versions.items()):
            missing = rv.unsayable(role.redcap, views, version)
            if missing:
                loc = role.loc or next(g.loc for g in study.access if g.role == role_id)
                out.append(
                    error(
                        systems_rules.REDCAP_VERSION.code,
                        f"role {role_id} in {study.id} holds rights REDCap {version} (the "
                        f"version of targets.redcap in {env}) cannot carry: {'; '.join(missing)}; "
                        "remove them, or state the target's `version:` if your REDCap is newer",
                        loc,
                    )
                )
    return out
