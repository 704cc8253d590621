"""Incremental `plan`: after one study file changed, re-validate and re-resolve that file alone and diff
only the grants of studies whose desired grants differ from the applied ones.

Why it is exact. A *study file* declares studies and nothing else; every other file is *global*. What
the pipeline derives from a study file (its studies' effective state, roles, sources, exclusions, the
notices of new external accounts, its warnings) is a function of that file's path and bytes, of every
global file, of the environment, the as-of date and the code, and of nothing in other study files: the
checks across studies (a study id declared twice) are redone here on the study ids of every file, and
anything else falls back to the full path. So a *fragment* (what one study file contributes) is stored
under a digest of exactly those inputs. A previous full plan stores a *base* under the digest of the
code, environment, date and state file's bytes: the global part of the desired state, the applied state
split per study, and every study file's fragment summary; that plan's fragments and applied parts are
stored as two packs (one file each, the base says where each part lies in it).

The diff: a study's grant changes are a function of its desired grants, roles, sources and exclusions
and of its applied grants, roles and sources (plan/diff.grant_changes takes each grant key on its own).
For a study of an unchanged file both sides are exactly what they were in the full plan that stored the
base (same fragment, same state file), so it has grant changes now if and only if it had some then: the
base keeps the set of those studies. Only they and the studies of changed, new or removed files are
loaded and diffed; sites, groups, studies and accounts are diffed whole (they are small).

Falls back to the full path (returns None) on anything it does not cover: no base, a global file
changed, added or removed, a changed file that declares more than studies, any error, a study id
declared twice, a live read, a damaged entry. Entries are marshal data under `.edcconf/cache/incremental/`,
keyed by every file of the package (never trusted across code versions), safe to delete;
EDCCONF_NO_CACHE=1 bypasses them (with the rest of the cache).
"""

from __future__ import annotations

import hashlib
import marshal
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from ...diagnostics import Diagnostic, UserError
from ...fs import write_atomically
from ...model import Model
from ...plan.brakes import managers_by_study
from ...providers import reads_live
from ...questions.compliance import applied_over_ceiling
from ...rules.external import account_notice
from ..codec import change_out, diag_out
from ..file_cache import cache_folder
from ..memo import package_digest
from ..spool import read_entry, spool

VERSION = 6  # 2: fragments and applied parts of a full plan stored as two packs; 3: guards (plan/brakes);
# 4: ceilings checked by the plan (grants above a ceiling per study, applied ones in the base);
# 5: qualifications checked by the plan (grants suspended for a lacking qualification, per study);
# 6: each study review file's study, so that a re-planned study is validated with its own reviews only


def _h(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _code() -> str:
    return _h(str(VERSION), sys.version, str(marshal.version), package_digest())


class Store:
    """One environment's entries. A full plan's record() keeps only what it wrote: the size stays about
    one organisation's worth (plus the fragments of files changed since)."""

    def __init__(self, root: Path, env: str) -> None:
        self.dir = cache_folder(root, "incremental", env)  # refused when it leads out of the configuration
        self.written: set[str] = set()

    def prune(self) -> None:
        """Remove the entries this run did not write (after the queued writes: see edcconf.speed.spool)."""

        written = frozenset(self.written)  # as of now, not when the spool gets to it
        spool.call(lambda: self._prune(written))

    def _prune(self, written: frozenset) -> None:
        try:
            for sub in self.dir.iterdir():
                for entry in sub.iterdir():
                    if entry.name not in written:
                        entry.unlink(missing_ok=True)
        except OSError:
            pass

    def get(self, name: str) -> Any | None:
        return read_entry(self.dir / name[:2] / name)

    def put_pack(self, name: str, values: dict[str, Any]) -> dict[str, tuple[int, int]] | None:
        """Many values in one entry (one file to create instead of thousands: a file create costs about
        a millisecond here); returns where each value lies in it, for get_packed. None if one cannot be
        stored (marshal refuses it) or the file cannot be written: nothing is put in place then, so no
        base refers to a pack that is not the one it was made with; only slower next time. Written in this thread as each value is
        encoded, never held whole: at N = 2,000 a pack is 50 MB, which the spool's queue held through
        the rest of a plan, at its peak (writing it here costs a few hundredths of a second)."""

        index: dict[str, tuple[int, int]] = {}

        def encoded() -> Iterator[bytes]:
            offset = 0
            for key, value in values.items():
                data = marshal.dumps(value)
                index[key] = (offset, len(data))
                offset += len(data)
                yield data

        try:
            write_atomically(self.dir / name[:2] / name, encoded(), durable=False)
        except (ValueError, TypeError, UserError, OSError):  # write_atomically left no file behind
            return None
        self.written.add(name)
        return index

    def get_packed(self, name: str, where: tuple[int, int]) -> Any | None:
        """One value of a pack; None when the pack is absent or damaged (a miss, as for get)."""
        return read_entry(self.dir / name[:2] / name, where)

    def put(self, name: str, value: Any) -> None:
        """Atomically (a reader sees the old entry or the new one), not durably: only slower if lost. The
        file is written by the spool's thread while the command goes on."""

        try:
            data = marshal.dumps(value)
        except (ValueError, TypeError):
            return  # only slower next time
        spool.write(self.dir / name[:2] / name, data)
        self.written.add(name)


def _base_key(env: str, as_of: date, state: str) -> str:
    return _h("base", _code(), env, as_of.isoformat(), state)


def _global_key(env: str, as_of: date, globals_: Iterable[tuple[str, str]]) -> str:
    return _h("global", _code(), env, as_of.isoformat(), *(f"{rel}\0{sha}" for rel, sha in globals_))


def _fragment_key(g: str, rel: str, sha: str) -> str:
    return _h("fragment", g, rel, sha)


def _non_study_files(model) -> set[str]:
    out = {e.loc.file for e in model.environments.values()} | {s.loc.file for s in model.sites.values()}
    out |= {g.loc.file for g in model.groups.values()}
    if model.openclinica_domain is not None:  # the domain's settings are checked as a whole
        out.add(model.openclinica_domain.loc.file)
    out |= {p.loc.file for p in model.access_policies}  # a policy judges every study (resolve.access_policies)
    out |= {q.loc.file for q in model.qualifications.values()}
    return out | {p.loc.file for p in model.people.values()}


def reviewed_files(model: Model) -> dict[str, list[str]]:
    """Each study review file (access reviews, #20) -> the studies it reviews. What the pipeline derives
    from a review file (its study's exclusions, its warnings) is a function of that file, the campaign's
    file and the study's own file: a re-planned study needs its own review files only, not every study's."""
    out: dict[str, list[str]] = {}
    for campaign in model.reviews.values():
        for review in campaign.studies.values():
            out.setdefault(review.loc.file, []).append(review.study)
    for campaign in model.reviews.values():
        out.pop(campaign.loc.file, None)  # a file declaring a campaign is always read
    return out


def _per_study(by_grant: Mapping[str, Diagnostic]) -> dict[str, dict[str, tuple]]:
    """Per study, grant key -> its diagnostic as plain data (a grant key starts with its study)."""
    out: dict[str, dict[str, tuple]] = {}
    for key, diag in by_grant.items():
        out.setdefault(key.split("/", 1)[0], {})[key] = diag_out(diag)
    return out


def split(model, env_state, warnings: list[Diagnostic], files: dict[str, list[str]]) -> dict[str, tuple]:
    """What each study file contributes to the environment's desired state: {rel: (summary, content)}."""

    state = env_state.state
    managers = managers_by_study(state)
    grants: dict[str, dict] = {}
    for key, g in state["grants"].items():
        grants.setdefault(g["study"], {})[key] = g
    roles: dict[str, dict] = {}
    for ref, value in state["roles"].items():
        roles.setdefault(ref.split("/", 1)[0], {})[ref] = value
    above = _per_study(env_state.ceilings)  # its ceiling-exceeded error, should the plan add or change it
    unqualified = _per_study(env_state.qualifications)  # its qualification-missing error (rules.qualifications)
    excluded: dict[str, dict] = {}
    for key, why in env_state.excluded.items():
        excluded.setdefault(key.split("/", 1)[0], {})[key] = (why.reason, why.loc.file, why.loc.line, why.loc.col)
    by_file: dict[str, list] = {}
    for d in warnings:
        by_file.setdefault(d.loc.file, []).append(diag_out(d))
    out = {}
    for rel, ids in files.items():
        studies, content = [], {}
        for sid in ids:
            if sid not in state["studies"]:
                continue
            study, mine = model.studies[sid], grants.get(sid, {})
            notices = {}
            for g in mine.values():
                person = model.people[g["user"]]
                if person.external is not None:  # the same rule as resolve: rules.external.account_notice
                    notices[g["user"]] = list(account_notice(person, study))
            sources = [(f"grant:{k}", env_state.sources[f"grant:{k}"]) for k in mine]
            studies.append(
                (
                    sid,
                    state["studies"][sid],
                    env_state.sources[f"study:{sid}"],
                    [s for s in study.sites if s in model.sites],
                    len(managers.get(sid, ())),
                    notices,
                )
            )
            content[sid] = (
                mine,
                roles.get(sid, {}),
                sources,
                excluded.get(sid, {}),
                above.get(sid, {}),
                unqualified.get(sid, {}),
            )
        out[rel] = ((tuple(ids), studies, by_file.get(rel, [])), content)
    return out


def applied_side(root: Path, env: str, as_of: date, state: str, decoded: dict) -> tuple | None:
    """The applied half of the base a full plan will record, from the state file as decoded (by the state
    prefetch child, which has it long before the plan is made): its pack written now, (pack, index, counts)."""
    store = Store(root, env)
    return store_applied_side(
        store, _base_key(env, as_of, state), decoded.get("effective") or {}, decoded.get("sources") or {}
    )


def store_applied_side(store: Store, key: str, have: dict, sources: dict) -> tuple | None:
    """The applied state split per study into a pack (grants, roles, sources of each study), with each
    study's count of grants and of study managers (for the brakes). None when a grant's key does not
    start with its study (not handled incrementally) or the pack cannot be stored."""

    applied: dict[str, dict] = {}
    for gkey, g in (have.get("grants") or {}).items():
        if gkey.split("/", 1)[0] != g.get("study"):
            return None
        applied.setdefault(g["study"], {})[gkey] = g
    applied_roles: dict[str, dict] = {}
    for ref, value in (have.get("roles") or {}).items():
        applied_roles.setdefault(ref.split("/", 1)[0], {})[ref] = value
    per_study, parts = {}, {}
    managers = managers_by_study(have)
    for sid, mine in applied.items():
        per_study[sid] = (len(mine), len(managers.get(sid, ())))
        parts[sid] = (
            mine,
            applied_roles.get(sid, {}),
            [(f"grant:{k}", sources[f"grant:{k}"]) for k in mine if f"grant:{k}" in sources],
        )
    pack = _h("applied", key)
    index = store.put_pack(pack, parts)
    return None if index is None else (pack, index, per_study)


def record(root: Path, env: str, as_of: date, files: list[tuple[str, str]], state: str, planned) -> None:
    """After a full plan: store the base and every study file's fragment for the next incremental plan."""

    desired, previous = planned.desired, planned.previous
    model: Model = desired.model
    env_state = desired.resolution.environments[env]
    others = _non_study_files(model)
    study_files: dict[str, list[str]] = {}
    for s in model.studies.values():
        if s.loc.file in others:
            return  # a study declared beside global declarations: not handled incrementally
        study_files.setdefault(s.loc.file, []).append(s.id)
    have = previous.effective
    store = Store(root, env)
    key = _base_key(env, as_of, state)
    side = getattr(planned, "applied_side", None)  # stored by the state prefetch child (workflow)
    if side is None:
        side = store_applied_side(store, key, have, previous.sources)
    if side is None:
        return
    applied_pack, applied_index, per_study = side
    store.written.add(applied_pack)
    globals_ = [(rel, sha) for rel, sha in files if rel not in study_files]
    g = _global_key(env, as_of, globals_)
    all_warnings = list(desired.diagnostics.warnings)
    fragments = split(model, env_state, all_warnings, study_files)
    shas = dict(files)
    fragment_pack = _h("fragments", key)
    fragment_index = store.put_pack(fragment_pack, {rel: fragment for rel, fragment in fragments.items()})
    if fragment_index is None:
        return
    environment = planned.environment
    wanted = env_state.state

    # applied grants above a ceiling: a function of the state and the global files, both in the base's key
    found = getattr(planned, "applied_over", None)  # computed by the plan that is recorded
    if found is None:
        found = applied_over_ceiling(model, previous, as_of)
    over = [(pair, (loc.file, loc.line, loc.col)) for pair, loc in found]
    global_sources = [(k, v) for k, v in env_state.sources.items() if k.startswith(("group:", "account:"))]
    sites = {
        s.id: ({"name": s.name, "country": s.country, "timezone": s.timezone, "city": s.city}, str(s.loc))
        for s in model.sites.values()
    }
    base = (
        VERSION,
        g,
        globals_,
        {rel: shas[rel] for rel in study_files},
        {rel: fragment[0] for rel, fragment in fragments.items()},
        (
            environment.name,
            (dict(planned.guards.enforced), dict(planned.guards.declared)),
            [change_out(c) for c in planned.plan.changes if c.kind == "environment"],
            reads_live(environment),
        ),
        (
            wanted["groups"],
            wanted["accounts"],
            sites,
            global_sources,
            [diag_out(d) for d in all_warnings if d.loc.file not in study_files],
            over,
        ),
        (
            previous.serial,
            previous.lineage,
            {k: have.get(k, {}) for k in ("sites", "groups", "studies", "accounts")},
            {k: v for k, v in previous.sources.items() if not k.startswith("grant:")},
            per_study,
            sorted({c.study for c in planned.plan.changes if c.kind == "grant"}),
        ),
        (fragment_pack, fragment_index, applied_pack, applied_index),
        reviewed_files(model),
    )
    store.put(key, base)
    store.prune()


from .replay import plan_incrementally  # noqa: E402  (the reading side)

__all__ = ["plan_incrementally", "record", "applied_side", "split", "reviewed_files", "Store"]
