"""Build the typed model from schema-valid documents, reporting duplicates as they are met."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic, Loc, error, suggest
from ..identity import fold, ignoring
from ..model import (
    ALL,
    Environment,
    External,
    Form,
    Grant,
    Group,
    HeldQualification,
    Model,
    OpenClinicaDomain,
    Person,
    Protocol,
    Role,
    Site,
    Study,
    Target,
    frozen_map,
)
from ..rules import ceilings as ceilings_rules
from ..rules import files as files_rules
from ..rules import references as references_rules
from ..rules.ceiling_values import UNLIMITED, Ceiling, effective_ceiling
from ..source.positions import child_entries, child_pos, child_record
from ..source.yamlfile import ParsedFile, Where

NO_RIGHTS = "no-rights"
NO_RIGHTS_CEILING = effective_ceiling({}, {})  # every generic right none, every REDCap key 0

_PLURALS = {"environment": "environments", "group": "groups", "study": "studies"}


class _Node:
    """A value of a parsed file together with its path, so every field can say where it was written.

    Carries its own positions record and Loc: a field's position is then read from the node's record,
    not found by walking the file from its root again for every field of every grant."""

    __slots__ = ("file", "path", "value", "rec", "loc")

    def __init__(self, file: ParsedFile, path: tuple, value: Any, rec: Any, loc: Loc) -> None:
        self.file, self.path, self.value, self.rec, self.loc = file, path, value, rec, loc

    @classmethod
    def root(cls, file: ParsedFile) -> _Node:
        return cls(file, (), file.data, file.tree, file.loc(()))

    def get(self, key: str, default: Any = None) -> Any:
        return self.value.get(key, default)

    def at(self, key: str) -> Loc:
        if key not in self.value:
            return self.loc
        line, col = child_pos(self.rec, key) or (0, 0)
        return Loc(self.file.path, line, col)

    def child(self, key: Any) -> _Node:
        line, col = child_pos(self.rec, key) or (0, 0)
        return _Node(
            self.file, self.path + (key,), self.value[key], child_record(self.rec, key), Loc(self.file.path, line, col)
        )

    def items(self, key: str) -> Iterator[_Node]:
        values = self.value.get(key) or ()
        if not values:
            return
        rec = child_record(self.rec, key)
        entries = child_entries(rec) if rec is not None else ()
        if len(entries) != len(values):  # no positions recorded: as ParsedFile.loc says, position unknown
            entries = [((0, 0), None)] * len(values)
        file, name, base = self.file, self.file.path, self.path + (key,)
        for i, ((line, col), child) in enumerate(entries):
            yield _Node(file, base + (i,), values[i], child, Loc(name, line, col))

    def locs(self) -> LazyLocs:
        return LazyLocs(self.file.where, self.path)


class LazyLocs(Mapping):
    """Where each field of a declaration was written, computed only when a message needs it:
    building a Loc for every field of 200,000 grants would cost more than validating them. Holds the
    file's positions only (never its data), so the parsed data is freed with the sources."""

    __slots__ = ("_where", "_path")

    def __init__(self, where: Where, path: tuple) -> None:
        self._where, self._path = where, path

    def _keys(self) -> tuple:
        return self._where.keys(self._path) or ()

    def __getitem__(self, key: str) -> Loc:
        if key not in self._keys():
            raise KeyError(key)
        return self._where.loc(self._path + (key,))

    def nested(self, keys: tuple) -> Loc | None:
        """Where a field below one of these is written (keys: a path from here), None when it is not."""
        *above, last = keys
        if last not in (self._where.keys(self._path + tuple(above)) or ()):
            return None
        return self._where.loc(self._path + keys)

    def __iter__(self):
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


def declarations(files: tuple[ParsedFile, ...], kind: str) -> Iterator[_Node]:
    """Every declaration of one kind, singular (`study:`) or plural (`studies:`) form."""
    plural = _PLURALS.get(kind, kind)
    for f in files:
        if not isinstance(f.data, dict) or (kind not in f.data and plural not in f.data):
            continue  # (before its positions are unpacked: most files hold one kind of declaration)
        root = _Node.root(f)
        if kind in f.data and kind != plural:
            yield root.child(kind)
        if plural in f.data:
            yield from root.items(plural)


def parse_date(node: _Node, key: str, problems: list[Diagnostic]) -> date | None:
    text = node.get(key)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        problems.append(
            error(files_rules.SCHEMA.code, f"{key}: {text!r} is not a real date (YYYY-MM-DD)", node.at(key))
        )
        return None


class _Registry:
    """Ids seen so far of one kind; a second use is `duplicate-id` naming the first. Ids are compared
    folded (rules.identity: case, full-width and invisible characters), so that `HEART-01` and `heart-01`
    are never two studies (nor two directories, nor two REDCap groups). Holds the declaring node, not its
    Loc: a position is worked out only for the rare message."""

    def __init__(self, what: str, problems: list[Diagnostic]) -> None:
        self.what, self.problems = what, problems
        self.seen: dict[str, tuple[_Node, str, str]] = {}

    def claim(self, ident: str, node: _Node, field: str) -> bool:
        """ident, written in node's `field`."""
        key = fold(ident) if isinstance(ident, str) else ident
        if key in self.seen:
            first, first_field, first_ident = self.seen[key]
            how = ignoring(str(ident), str(first_ident))
            self.problems.append(
                error(
                    references_rules.DUPLICATE_ID.code,
                    f"{self.what} {ident!r} is declared twice"
                    f"{f' ({how})' if how else ''}; first at {first.at(first_field)}"
                    f"{f' as {first_ident!r}' if how else ''}",
                    node.at(field),
                )
            )
            return False
        self.seen[key] = node, field, ident
        return True


def build_model(root: Path, digest: str, files: tuple[ParsedFile, ...]) -> tuple[Model, list[Diagnostic]]:
    problems: list[Diagnostic] = []
    environments = _environments(files, problems)
    sites = _sites(files, problems)
    groups, people = _groups(files, problems)
    studies = _studies(files, problems)
    policy, policy_loc = _policy(files, problems)
    model = Model(
        root=root,
        digest=digest,
        environments=frozen_map(environments),
        sites=frozen_map(sites),
        groups=frozen_map(groups),
        people=frozen_map(people),
        studies=frozen_map(studies),
        openclinica_domain=_openclinica_domain(files, problems),
        policy=frozen_map(policy),
        policy_loc=policy_loc,
        access_policies=_access_policies(files, problems, studies),  # separation of duties (build_policies)
    )
    if any(isinstance(f.data, dict) and ("review_campaign" in f.data or "access_review" in f.data) for f in files):
        from .build_reviews import build_reviews  # a cycle inside validate: build_reviews uses _Node

        model = replace(model, reviews=frozen_map(build_reviews(root, files, problems)))
    from .build_qualifications import with_qualifications  # local: a cycle inside one package (it reads this module)

    return with_qualifications(model, files, problems), problems


def _access_policies(files: tuple[ParsedFile, ...], problems: list[Diagnostic], studies: dict) -> tuple:
    from .build_policies import access_policies  # local: a cycle inside one package (it uses _Registry)

    return access_policies(files, problems, studies)


def _openclinica_domain(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> OpenClinicaDomain | None:
    """The one `openclinica_domain:` declaration (001: MFA and password rules are settings of the domain)."""
    found: OpenClinicaDomain | None = None
    for f in files:
        if not isinstance(f.data, dict) or "openclinica_domain" not in f.data:
            continue
        node = _Node.root(f).child("openclinica_domain")
        if found is not None:
            problems.append(
                error(
                    references_rules.DUPLICATE_ID.code,
                    f"openclinica_domain is declared twice; first at {found.loc}: "
                    "MFA and the password rules are settings of the one OpenClinica domain (001), "
                    "declare them once",
                    node.loc,
                )
            )
            continue
        locs = {key: node.at(key) for key in node.value}
        if isinstance(node.get("password"), dict):
            password = node.child("password")
            locs.update({f"password.{key}": password.at(key) for key in password.value})
        found = OpenClinicaDomain(
            mfa_required=bool(node.get("mfa_required", False)),
            password=frozen_map(node.get("password") or {}),
            loc=node.loc,
            locs=frozen_map(locs),
        )
    return found


def _policy(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> tuple[dict, Loc | None]:
    """The organisation's `policy:` settings: one declaration in the whole configuration."""
    found: list[_Node] = [
        _Node.root(f).child("policy")
        for f in files
        if isinstance(f.data, dict) and isinstance(f.data.get("policy"), dict)
    ]
    for node in found[1:]:
        problems.append(
            error(
                references_rules.DUPLICATE_ID.code,
                f"policy is declared twice; first at {found[0].loc}: declare the organisation's policy once",
                node.loc,
            )
        )
    return (dict(found[0].value), found[0].loc) if found else ({}, None)


def _environments(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, Environment]:
    out: dict[str, Environment] = {}
    ids = _Registry("environment", problems)
    for node in declarations(files, "environment"):
        name = node.get("name")
        if not ids.claim(name, node, "name"):
            continue
        targets = {}
        for system, t in (node.get("targets") or {}).items():
            tnode = node.child("targets").child(system)
            targets[system] = Target(
                system,
                t["provider"],
                t.get("out"),
                t.get("url"),
                t.get("token_env"),
                tnode.loc,
                frozen_map(t.get("vault_user_defaults") or {}),
                t.get("version"),
                t.get("requests_per_second"),
            )
        out[name] = Environment(
            name=name,
            protected=bool(node.get("protected", False)),
            safety=frozen_map(node.get("safety") or {}),
            state=frozen_map(node.get("state") or {"backend": "local"}),
            security=frozen_map(node.get("security") or {}),
            targets=frozen_map(targets),
            loc=node.loc,
            external=frozen_map(node.get("external") or {}),
            alerts=frozen_map(node.get("alerts") or {}),
        )
    return out


def _sites(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, Site]:
    out: dict[str, Site] = {}
    ids = _Registry("site", problems)
    for node in declarations(files, "sites"):
        sid = node.get("id")
        if ids.claim(sid, node, "id"):
            out[sid] = Site(
                sid, node.get("name"), node.get("country"), node.get("timezone"), node.get("city"), node.loc
            )
    return out


def _groups(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> tuple[dict[str, Group], dict[str, Person]]:
    groups: dict[str, Group] = {}
    people: dict[str, Person] = {}
    group_ids = _Registry("group", problems)
    usernames = _Registry("username", problems)
    declared: dict[str, _Node] = {}
    from .build_qualifications import held_qualifications  # local: that module reads this one

    held_shared: dict[tuple, Mapping[str, HeldQualification]] = {}  # the same dates held: one mapping

    for node in declarations(files, "group"):
        gid = node.get("id")
        if not group_ids.claim(gid, node, "id"):
            continue
        declared[gid] = node
        members = []
        for member in node.items("members"):
            person = _person(member, gid, problems, held_qualifications(member, problems, held_shared))
            # usernames are unique across the whole repository, ignoring case (001); e-mails are judged
            # once the studies are built, by the systems each person has access to (rules.identity)
            usernames.claim(person.username, member, "username")
            # A duplicate is reported once; keeping the other spelling avoids a cascade of
            # "unknown user" errors for grants that name it.
            if person.username not in people:
                people[person.username] = person
                members.append(person.username)
        groups[gid] = _group(node, gid, tuple(members), None, problems)
    if NO_RIGHTS not in groups:
        groups[NO_RIGHTS] = Group(
            NO_RIGHTS,
            "Built-in: keeps an account, may be granted nothing",
            frozen_map(NO_RIGHTS_CEILING.rights),
            frozen_map(NO_RIGHTS_CEILING.keys),
            None,
            (),
            Loc("<built-in>"),
            True,
        )
    _extend(groups, declared, problems)
    return groups, people


def _group(
    node: _Node, gid: str, members: tuple[str, ...], parent: Ceiling | None, problems: list[Diagnostic]
) -> Group:
    """A group with its effective ceiling (rules.ceilings: unnamed rights are none unless said otherwise)."""
    named = dict(node.get("ceiling") or {})
    named_keys = named.pop("redcap", {}) or {}
    unlimited = named.pop("unnamed", "none") == UNLIMITED
    builtin = gid == NO_RIGHTS
    if builtin:
        if node.get("ceiling") is not None or node.get("extends") is not None:
            problems.append(
                error(
                    files_rules.SCHEMA.code,
                    "the built-in group no-rights has a fixed ceiling (every right none); remove its ceiling",
                    node.at("ceiling"),
                )
            )
        ceiling = NO_RIGHTS_CEILING
    else:
        ceiling = effective_ceiling(named, named_keys, unlimited=unlimited, parent=parent)
    return Group(
        gid,
        node.get("description"),
        frozen_map(ceiling.rights),
        frozen_map(ceiling.keys),
        node.get("message"),
        members,
        node.loc,
        builtin,
        node.get("sag_id"),
        node.get("acg_id"),
        bool(node.get("default")),
        node.get("extends"),
        unlimited,
        frozen_map({**named, **({"redcap": frozen_map(named_keys)} if named_keys else {})}),
    )


def _extend(groups: dict[str, Group], declared: dict[str, _Node], problems: list[Diagnostic]) -> None:
    """Groups that start from another group's ceiling, parents first; a cycle or an unknown parent is an error."""
    done: set[str] = {gid for gid, node in declared.items() if node.get("extends") is None} | {NO_RIGHTS}

    def resolve(gid: str, chain: tuple[str, ...]) -> bool:
        if gid in done:
            return True
        node = declared[gid]
        parent = node.get("extends")
        if parent not in groups:
            problems.append(
                error(
                    references_rules.UNKNOWN_REFERENCE.code,
                    f"group {gid} extends unknown group {parent!r}{suggest(str(parent), groups)}",
                    node.at("extends"),
                )
            )
            return False
        if parent in chain:
            problems.append(
                error(
                    ceilings_rules.CEILING_EXTENDS.code,
                    f"group {gid} extends {parent}, which extends {gid} "
                    f"({' -> '.join(chain + (parent,))}); a ceiling cannot start from itself",
                    node.at("extends"),
                )
            )
            return False
        if parent in declared and not resolve(parent, chain + (parent,)):
            return False
        if (node.get("ceiling") or {}).get("unnamed") is not None:
            problems.append(
                error(
                    ceilings_rules.CEILING_EXTENDS.code,
                    f"group {gid} extends {parent}: its unnamed rights are {parent}'s; remove `unnamed:`",
                    node.at("extends"),
                )
            )
        base = groups[parent]
        groups[gid] = _group(node, gid, groups[gid].members, Ceiling(base.ceiling, base.redcap_ceiling), problems)
        done.add(gid)
        return True

    for gid in declared:
        resolve(gid, (gid,))


def _person(
    node: _Node, group: str, problems: list[Diagnostic], qualifications: Mapping[str, HeldQualification]
) -> Person:
    ext = None
    if node.get("external") is not None:
        enode = node.child("external")
        ext = External(
            enode.get("organization"),
            parse_date(enode, "agreement_signed", problems),
            enode.get("basis"),
            enode.get("justification"),
            enode.get("requested_by"),
            enode.loc,
            approved_by=enode.get("approved_by"),
            phi_protections=enode.get("phi_protections"),
            locs=enode.locs(),
        )
    return Person(
        username=node.get("username"),
        email=node.get("email"),
        name=node.get("name"),
        type=node.get("type", "user"),
        status=node.get("status", "active"),
        expires=parse_date(node, "expires", problems),
        external=ext,
        group=group,
        loc=node.loc,
        locs=node.locs(),
        qualifications=qualifications,
    )


def _studies(files: tuple[ParsedFile, ...], problems: list[Diagnostic]) -> dict[str, Study]:
    out: dict[str, Study] = {}
    ids = _Registry("study", problems)
    for node in declarations(files, "study"):
        sid = node.get("id")
        if not ids.claim(sid, node, "id"):
            continue
        form_ids = _Registry(f"form of study {sid}:", problems)
        forms = []
        for f in node.items("forms"):
            v = f.value
            if form_ids.claim(v.get("id"), f, "id"):
                forms.append(
                    Form(
                        v.get("id"),
                        v.get("name"),
                        bool(v.get("contact_data", False)),
                        tuple(v.get("tags") or ()),
                        f.loc,
                    )
                )
        roles = {}
        for rid in node.get("roles") or {}:
            r = node.child("roles").child(rid)
            roles[rid] = Role(
                rid,
                r.get("base"),
                r.get("default"),
                frozen_map(r.get("tags") or {}),
                r.get("contact_forms"),
                frozen_map(r.get("redcap") or {}),
                node.file.key_loc(r.path),
                r.locs(),
                frozen_map({f: frozen_map(v) for f, v in (r.get("redcap_forms") or {}).items()}),
                frozen_map(r.get("redcap_role") or {}),
            )
        protocol = None
        if node.get("protocol") is not None:
            p = node.child("protocol")
            protocol = Protocol(
                p.get("irb"), p.get("pi"), tuple(p.get("co_pis") or ()), tuple(p.get("staff") or ()), p.loc
            )
        study_envs = tuple(node.get("environments") or ())
        access = _grants(node, sid, study_envs, problems)
        out[sid] = Study(
            id=sid,
            name=node.get("name"),
            system=node.get("system"),
            status=node.get("status"),
            protocol=protocol,
            environments=study_envs,
            sites=tuple(node.get("sites") or ()),
            participant_id_template=node.get("participant_id_template"),
            tags=tuple(node.get("tags") or ()),
            forms=tuple(forms),
            roles=frozen_map(roles),
            access=access,
            redcap=frozen_map(node.get("redcap") or {}),
            loc=node.loc,
            locs=node.locs(),
            collects_phi=node.get("collects_phi"),
        )
    return out


def _grants(study: _Node, sid: str, study_envs: tuple[str, ...], problems: list[Diagnostic]) -> tuple[Grant, ...]:
    grants: list[Grant] = []
    claimed: dict[tuple[str, str, str], Loc] = {}  # (user, environment, role) -> first grant
    for g in study.items("access"):
        v, loc = g.value, g.loc  # the grant's mapping, read directly: 200,000 of them at N=2,000
        envs = v.get("environments", ALL)
        sites = v.get("sites")
        countries = v.get("countries")
        if sites is not None and countries is not None:
            problems.append(
                error(files_rules.SCHEMA.code, "a grant takes either sites or countries, not both", g.at("countries"))
            )
            continue
        if sites is None and countries is None:
            problems.append(error(files_rules.SCHEMA.code, "a grant needs sites (a list or `all`) or countries", loc))
            continue
        grant = Grant(
            study=sid,
            user=v.get("user"),
            role=v.get("role"),
            environments=envs if envs == ALL else tuple(envs),
            sites=sites if sites in (ALL, None) else tuple(sites),
            countries=tuple(countries) if countries is not None else None,
            expires=parse_date(g, "expires", problems) if v.get("expires") is not None else None,
            loc=loc,
            locs=g.locs(),
            disabled=v.get("study_status") == "disabled",
        )
        duplicate = False
        user = fold(grant.user)
        for env in study_envs if envs == ALL else envs:
            # one grant per person, role and environment; different roles at different sites are
            # allowed (001/003) and checked by rules.site_roles once sites are known
            first = claimed.setdefault((user, env, fold(str(grant.role))), loc)
            # `is` first: the usual case is this grant's own Loc. An alias repeating a grant has an equal Loc.
            if first is not loc and first != loc and not duplicate:
                duplicate = True
                problems.append(
                    error(
                        references_rules.DUPLICATE_ID.code,
                        f"{grant.user} is granted {grant.role} twice in study {sid} for "
                        f"environment {env} (first at {first}); list every site of that role in one grant",
                        g.at("user"),
                    )
                )
        if not duplicate:
            grants.append(grant)
    held = Counter((user, env) for user, env, _ in claimed)
    if len(held) < len(claimed):
        grants = _keyed_by_role(grants, study_envs)
    return tuple(grants)


def _keyed_by_role(grants: list[Grant], study_envs: tuple[str, ...]) -> list[Grant]:
    """Someone holds two roles in one environment (roles per site, 001/003). Their first grant keeps the
    key `<study>/<username>`; a later one that shares an environment with an earlier one is keyed by its role
    too (`<study>/<username>/<role>`). So adding a role at another site never changes an applied grant's key."""
    seen: dict[str, set[str]] = {}  # person -> environments of their earlier grants
    out = []
    for grant in grants:
        envs = set(study_envs if grant.environments == ALL else grant.environments)
        earlier = seen.setdefault(fold(grant.user), set())
        out.append(replace(grant, per_role=True) if envs & earlier else grant)
        earlier |= envs
    return out
