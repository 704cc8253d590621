"""The reading side of the incremental planner (see edcconf.speed.incremental): a plan from the base, the
fragments of unchanged study files, a validate+resolve run over the global files and the changed study
files only, and a diff of the grants of studies whose desired and applied grants differ."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, cast

from ...diagnostics import Diagnostic, Loc, UserError
from ...pipeline import desired_from_sources
from ...plan.brakes import Guards, brakes_from_counts
from ...plan.diff import entity_changes, grant_changes, ordered_plan
from ...plan.model import Change
from ...resolve.effective import EnvironmentState, Exclusion
from ...resolve.sections import EffectiveState
from ...rules import qualifications as qualifications_rules
from ...rules.ceilings import at_assignment
from ...source import load_sources
from ...validate.schema import validate_file
from ..codec import diag_in, diag_out
from ..memo import MemoPlanned
from ..reader import FastReader
from . import VERSION, Store, _base_key, _fragment_key, _global_key, _non_study_files, split


class IncrementalPlanned(MemoPlanned):
    """A plan made incrementally: plan and config_digest; systems and sources assembled on first use."""


def _load_files(root: Path, rels: list[str]):
    """load_sources over some files only (through the same file cache). A file that cannot be read is an
    error diagnostic, so the subset run raises and the full path reports it."""

    sources = load_sources(root, check=validate_file, rels=rels, reader=FastReader())
    return dataclasses.replace(sources, digest=hashlib.sha256(b"subset").hexdigest())


def _fresh_fragments(
    root: Path,
    env: str,
    as_of: date,
    globals_: list[str],
    changed: list[str],
    global_warnings: list,
    expected: set[str] | None = None,
) -> dict | None:
    """Validate and resolve the global files with the changed study files; their fragments, or None.
    expected: the studies the changed files are known to declare, when only their review files are among
    globals_ (see _plan); None: every global file is."""

    order = sorted(globals_ + changed)
    loaded = set(order)
    sources = _load_files(root, order)
    if sources is None:
        return None
    try:
        desired = desired_from_sources(sources, as_of, [env])
    except UserError:
        return None  # errors are reported by the full path, exactly as it reports them
    model = desired.model
    if _non_study_files(model) & set(changed):
        return None  # a changed file now declares more than studies
    files: dict[str, list[str]] = {rel: [] for rel in changed}
    for s in model.studies.values():
        if s.loc.file not in files:
            return None
        files[s.loc.file].append(s.id)
    if expected is not None and not set(model.studies) <= expected:
        return None  # a changed file now declares another study: its review files were not read
    warnings = list(desired.diagnostics.warnings)
    # the global files' warnings as the full plan recorded them, of the files read here (the review files
    # of studies not re-planned were left unread: their warnings are the recorded ones)
    if [diag_out(d) for d in warnings if d.loc.file not in files] != [w for w in global_warnings if w[2] in loaded]:
        return None
    return split(model, desired.resolution.environments[env], warnings, files)


def plan_incrementally(
    root: Path, env: str, as_of: date, refresh: bool, files: list[tuple[str, str]], state: str, digest: str
) -> IncrementalPlanned | None:
    """The plan, or None when the full path must make it (see edcconf.speed.incremental)."""
    try:
        return _plan(root, env, as_of, refresh, files, state, digest)
    except (LookupError, TypeError, ValueError, AttributeError):
        return None  # an entry that is damaged yet still reads as marshal data: a miss


def _plan(root, env, as_of, refresh, files, state, digest):
    store = Store(root, env)
    base = store.get(_base_key(env, as_of, state))
    try:
        version, g, globals_, study_shas, summaries, env_info, wanted, applied, packs, reviewed = base
    except (TypeError, ValueError):
        return None

    if version != VERSION or (refresh and env_info[3]):
        return None
    shas = dict(files)
    globals_map = dict(globals_)
    if [(rel, sha) for rel, sha in files if rel in globals_map] != list(globals_) or _global_key(
        env, as_of, globals_
    ) != g:
        return None  # a global file changed or disappeared
    study_rels = [rel for rel, _ in files if rel not in globals_map]
    contents: dict[str, dict] = {}
    found: dict[str, tuple] = {}
    changed = []
    for rel in study_rels:
        if study_shas.get(rel) == shas[rel] and rel in summaries:
            found[rel] = summaries[rel]
            continue
        fragment = store.get(_fragment_key(g, rel, shas[rel]))
        if fragment is None:
            changed.append(rel)
        else:
            found[rel], contents[rel] = fragment
    if changed:
        # a changed study file is validated with every global file but the review files of other studies
        # (edcconf.speed.incremental.reviewed_files); a new file's studies are not known: all are read
        expected = {sid for rel in changed if rel in summaries for sid in summaries[rel][0]}
        if reviewed and all(rel in summaries for rel in changed):
            read = [rel for rel in globals_map if rel not in reviewed or expected.intersection(reviewed[rel])]
            fresh = _fresh_fragments(root, env, as_of, read, changed, wanted[4], expected)
        else:
            fresh = _fresh_fragments(root, env, as_of, list(globals_map), changed, wanted[4])
        if fresh is None:
            return None
        for rel, fragment in fresh.items():
            store.put(_fragment_key(g, rel, shas[rel]), fragment)
            found[rel], contents[rel] = fragment
    try:
        return _assemble(
            Assembly(
                store=store,
                env=env,
                as_of=as_of,
                digest=digest,
                study_rels=study_rels,
                shas=shas,
                found=found,
                contents=contents,
                env_info=env_info,
                wanted=wanted,
                applied=applied,
                packs=packs,
                study_shas=study_shas,
                summaries=summaries,
            )
        )
    except (LookupError, TypeError, ValueError):
        return None  # a damaged or missing entry


@dataclass(frozen=True, kw_only=True)
class Assembly:
    """What a plan is assembled from: the base's parts (see record) and this run's study files."""

    store: Any  # Store
    env: str
    as_of: date
    digest: str  # the configuration's
    study_rels: list[str]  # every study file now, in load order
    shas: dict[str, str]  # file -> sha256 of its bytes, now
    found: dict[str, tuple]  # study file -> its fragment's summary
    contents: dict[str, dict]  # study file -> its fragment's content, when already read
    env_info: tuple  # the base's parts, as record stores them
    wanted: tuple
    applied: tuple
    packs: tuple
    study_shas: dict[str, str]  # study file -> sha256, when the base was stored
    summaries: dict[str, tuple]  # study file -> its fragment's summary, when the base was stored


def _assemble(a: Assembly):
    store, env, as_of, digest = a.store, a.env, a.as_of, a.digest
    study_rels, shas, found, contents = a.study_rels, a.shas, a.found, a.contents
    env_info, wanted, applied, packs = a.env_info, a.wanted, a.applied, a.packs
    study_shas, summaries = a.study_shas, a.summaries

    groups, accounts, sites_all, global_sources, global_warnings, over = wanted
    serial, lineage, have, old_sources, per_study, differing = applied
    ids = [sid for rel in study_rels for sid in found[rel][0]]
    if len(set(ids)) != len(ids):
        return None  # a study declared twice: the full path reports it
    studies: dict[str, dict] = {}
    sites: dict[str, dict] = {}
    heard: dict[str, set] = {}
    sources = dict(global_sources)
    managers: dict[str, int] = {}
    where: dict[str, str] = {}
    study_sites: dict[str, list] = {}
    warnings = [diag_in(t) for t in global_warnings]
    for rel in study_rels:
        _, entries, file_warnings = found[rel]
        warnings.extend(diag_in(t) for t in file_warnings)
        for sid, value, source, site_ids, n_managers, study_notices in entries:
            studies[sid] = value
            sources[f"study:{sid}"] = source
            for site in site_ids:
                if site not in sites:
                    sites[site] = sites_all[site][0]
                    sources[f"site:{site}"] = sites_all[site][1]
            managers[sid], where[sid], study_sites[sid] = n_managers, rel, site_ids
            for user, names in study_notices.items():
                heard.setdefault(user, set()).update(names)
    notices = {u: tuple(sorted(n)) for u, n in heard.items()}
    want = {"sites": sites, "groups": groups, "studies": studies, "accounts": accounts}
    changes = entity_changes(want, have, sources, old_sources, notices)
    changes.extend(Change(*c) for c in env_info[2])  # the guards: from global files and the state, as in the base

    fragment_pack, fragment_index, applied_pack, applied_index = packs

    def content(sid):
        rel = where[sid]
        if rel not in contents:  # a file unchanged since the base: its fragment is in the base's pack
            contents[rel] = store.get_packed(fragment_pack, fragment_index[rel])[1]
        return contents[rel][sid]

    to_diff = set(differing)  # studies of unchanged files: grant changes now iff in the base's plan
    for rel in set(study_shas) | set(study_rels):
        if study_shas.get(rel) != shas.get(rel):  # changed, new or removed since the base
            to_diff.update(summaries[rel][0] if rel in summaries else ())
            to_diff.update(found[rel][0] if rel in found else ())
    above = {}  # the ceiling-exceeded error of each grant above its ceiling, of the studies diffed
    # each grant suspended for a lacking qualification, of the studies diffed, and their applied keys: a
    # study of an unchanged file that is not diffed had no error in the base's plan (which was made)
    unqualified, applied_keys = {}, set()
    for sid in sorted(to_diff):
        mine, roles, grant_sources, excluded, study_above, study_unqualified = (
            content(sid) if sid in where else ({}, {}, [], {}, {}, {})
        )
        above.update({k: diag_in(t) for k, t in study_above.items()})
        unqualified.update({k: diag_in(t) for k, t in study_unqualified.items()})
        old, old_roles, old_grant_sources = (
            store.get_packed(applied_pack, applied_index[sid]) if sid in per_study else ({}, {}, [])
        )
        part = EnvironmentState(
            env,
            as_of,
            cast(EffectiveState, {"grants": mine, "roles": roles}),  # a study's part: the diff reads no more
            dict(grant_sources),
            {k: Exclusion(r, Loc(f, line, col)) for k, (r, f, line, col) in excluded.items()},
            (),
        )
        applied_keys.update(old)
        changes.extend(grant_changes(part, {"grants": old, "roles": old_roles}, dict(old_grant_sources)))
    systems = {k: v.get("system") for k, v in {**have.get("studies", {}), **studies}.items()}
    plan = ordered_plan(env, serial, lineage, as_of, changes, tuple(sorted(warnings, key=Diagnostic.sort_key)), systems)

    errors, over_warnings = at_assignment(plan.changes, above, [(pair, Loc(*loc)) for pair, loc in over])
    if errors:
        return None  # the full path refuses the plan, exactly as it reports it

    missing, suspended = qualifications_rules.at_assignment(
        unqualified, applied_keys, qualifications_rules.revoked_keys(plan.changes)
    )
    if missing:
        return None  # the full path refuses the plan, exactly as it reports it
    plan = replace(plan, warnings=plan.warnings + tuple(over_warnings) + tuple(suspended))
    plan = replace(plan, brakes=_brakes(plan.changes, env_info, per_study, managers, studies, have))

    def extra():
        systems = {k: v["system"] for k, v in {**have.get("studies", {}), **studies}.items()}
        full = dict(global_sources)
        for sid in studies:
            full[f"study:{sid}"] = sources[f"study:{sid}"]
            for site in study_sites[sid]:
                full.setdefault(f"site:{site}", sites_all[site][1])
            full.update(content(sid)[2])
        return systems, full

    return IncrementalPlanned(plan, digest, extra)


def _brakes(changes, env_info, per_study, managers, studies, have) -> tuple:
    """plan/brakes.find_brakes from the per-study counts the base keeps (no grant loaded to count)."""

    name, (enforced, declared), _, _ = env_info
    return brakes_from_counts(
        changes,
        Guards(name, enforced, declared),
        {s: n[0] for s, n in per_study.items()},
        {s: n[1] for s, n in per_study.items()},
        managers,
        studies,
        have.get("studies", {}),
    )
