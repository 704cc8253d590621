"""Import: the systems' own files turned into declarations (groups, people, grants).

Each importer reads its files with `interchange` (every problem with its row number), checks the rows
against the configuration, and returns what it would declare. Nothing is written when a file has an
error; `write_import` adds the declarations through `source.writer`, preserving what is there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostic, Loc, UserError, error, suggest, warning
from ..interchange.acg import DEFAULT_GROUP_ID, read_acg_assignments, read_acg_definitions
from ..interchange.redcap_users import read_redcap_users
from ..interchange.sag import DEFAULT_SAG_ID, read_sag_assignments, read_sag_definitions
from ..model import Model
from ..providers.bulk import NO_RIGHTS, ceiling_from_sag, group_id_for, sag_rights_of_acg
from ..source import load_sources
from ..source.writer import import_note, plan_edits, write_edits
from ..validate import validate


@dataclass
class ImportResult:
    """What an import declares: new groups (with their new members), people added to existing groups,
    access entries, roles and sites added to existing studies, and new global sites."""

    source: str
    groups: list[dict] = field(default_factory=list)
    members: dict[str, list[dict]] = field(default_factory=dict)
    grants: dict[str, list[dict]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    roles: dict[str, dict[str, dict]] = field(default_factory=dict)  # study id -> {role id: role}
    study_sites: dict[str, list[str]] = field(default_factory=dict)  # study id -> site ids it adds
    sites: list[dict] = field(default_factory=list)  # new global sites

    @property
    def empty(self) -> bool:
        return not (self.groups or self.members or self.grants or self.roles or self.study_sites or self.sites)

    def summary(self) -> list[str]:
        lines = [f"site {s['id']} ({s.get('name', '')})" for s in self.sites]
        lines += [f"group {g['id']} ({len(g.get('members', []))} members)" for g in self.groups]
        lines += [f"{len(p)} people in group {gid}" for gid, p in sorted(self.members.items())]
        lines += [f"{len(r)} roles in study {sid}" for sid, r in sorted(self.roles.items())]
        lines += [f"{len(s)} sites in study {sid}" for sid, s in sorted(self.study_sites.items())]
        lines += [f"{len(a)} grants in study {sid}" for sid, a in sorted(self.grants.items())]
        return lines


def current_model(root: Path) -> Model:
    """The configuration as it is; an import into a broken configuration would hide its own effect."""

    validated = validate(load_sources(Path(root)))
    if validated.model is None or validated.diagnostics.has_errors:
        raise UserError(
            "the configuration has errors; fix them before importing",
            validated.diagnostics.errors,
            code="config-invalid",
        )
    return validated.model


def study_of_system(model: Model, study_id: str, system: str, command: str):
    """The study an import writes into, which must exist and be of the system the file comes from."""
    study = model.studies.get(study_id)
    if study is None:
        raise UserError(f"unknown study {study_id!r}{suggest(study_id, model.studies)}", code="unknown-reference")
    if study.system != system:
        raise UserError(
            f"{study_id} is a {study.system} study; `{command}` reads {system} users", code="import-invalid"
        )
    return study


def refuse_errors(parsed_diags: list[Diagnostic], what: str) -> None:
    errors = [d for d in parsed_diags if d.severity == "error"]
    if errors:
        raise UserError(
            f"{what} has {len(errors)} error{'s' if len(errors) != 1 else ''}; nothing was written",
            parsed_diags,
            code="import-invalid",
        )


def _person(username: str, email: str, name: str) -> dict:
    person = {"username": username, "email": email, "name": name or username}
    if not email:
        del person["email"]
    return person


def _place_people(
    result: ImportResult,
    model: Model,
    rows: list[tuple[str, str, str, str, Loc]],
    new_groups: dict[str, dict],
    without_email: bool = False,
) -> None:
    """(username, group id, email, name, where) rows: new people go into their group; people already
    declared stay where they are, and a different group in the file is reported, not moved. A new person
    without an e-mail is an error, unless `without_email` (group files: no access comes with them), when
    they are declared without one. A shared e-mail is a warning: validate judges it with the access."""
    emails: dict[str, str] = {p.email.lower(): p.username for p in model.people.values() if p.email}
    for username, gid, email, name, loc in rows:
        person = model.people.get(username) or next(
            (p for p in model.people.values() if p.username.lower() == username.lower()), None
        )
        if person is not None:
            if person.group != gid:
                result.diagnostics.append(
                    warning(
                        "import-conflict",
                        f"{username} is in group {person.group} in the configuration ({person.loc}); "
                        f"the file puts them in {gid}: move them by hand if that is intended",
                        loc,
                    )
                )
            continue
        if not email and not without_email:
            result.diagnostics.append(
                error(
                    "csv-required",
                    f"{username} is not declared yet and the file gives no "
                    "e-mail; a person needs one (add it to the file)",
                    loc,
                )
            )
            continue
        if not email:
            result.diagnostics.append(
                warning(
                    "import-no-email",
                    f"{username} is declared without an e-mail: the file gives none (`import acg "
                    "--users USERS.csv` reads e-mails from REDCap's user export); add `email:` before granting them "
                    "OpenClinica or Vault access",
                    loc,
                    username=username,
                )
            )
        elif email.lower() in emails:
            result.diagnostics.append(
                warning(
                    "shared-email",
                    f"e-mail {email} of {username} also belongs to {emails[email.lower()]}; REDCap and "
                    "Vault accept that, OpenClinica does not: validate says which it is once access is declared",
                    loc,
                )
            )
        else:
            emails[email.lower()] = username
        entry = _person(username, email, name)
        if gid in new_groups:
            new_groups[gid].setdefault("members", []).append(entry)
        else:
            result.members.setdefault(gid, []).append(entry)


def _new_group(
    model: Model, taken: set[str], name: str, ident_key: str, ident: str, rights: dict, default: bool = False
) -> dict:
    """The declaration of a group read from a SAG or ACG row: exactly its rights (unnamed ones are none)."""
    generic, redcap = ceiling_from_sag(rights)
    gid = group_id_for(name, taken)
    taken.add(gid)
    group: dict = {"id": gid, "description": name}
    if ident:
        group[ident_key] = ident
    if default:
        group["default"] = True
    group["ceiling"] = {**generic, **({"redcap": redcap} if redcap else {})}
    return group


def builtin_no_rights(kind: str, ident: str, rights: dict) -> bool:
    """REDCap's own no-rights group (ACG G-NORIGHTS; the SAG module's default when it allows nothing) is
    edcconf's built-in no-rights group, never a new group."""
    if kind == "acg":
        return ident == DEFAULT_GROUP_ID
    return ident == DEFAULT_SAG_ID and not any(rights.values())


@dataclass(frozen=True)
class GroupFiles:
    """A SAG or ACG definitions file and its assignments file, read into the same terms."""

    kind: str  # "sag" | "acg"
    ident_key: str  # the group field holding the file's id: sag_id | acg_id
    definitions: list[tuple[str, str, dict]]  # (id, name, SAG rights)
    assignments: list[tuple[str, str, str, str, int]]  # (username, group id, e-mail, name, line); ACG: no e-mail, name
    diagnostics: list[Diagnostic]
    defaults: frozenset[str] = frozenset()  # ids (or names, for new rows) marked is_default_group


def read_group_files(kind: str, defs_path: Path, assign_path: Path) -> GroupFiles:
    if kind == "sag":
        defs = read_sag_definitions(Path(defs_path).read_bytes(), str(defs_path))
        assigns = read_sag_assignments(Path(assign_path).read_bytes(), str(assign_path))
        return GroupFiles(
            kind,
            "sag_id",
            [(d.sag_id, d.sag_name, dict(d.rights)) for d in defs.rows],
            [(a.username, a.sag_id, a.email, a.name, a.line) for a in assigns.rows],
            list(defs.diagnostics) + list(assigns.diagnostics),
        )

    acg_defs = read_acg_definitions(Path(defs_path).read_bytes(), str(defs_path))
    acg_assigns = read_acg_assignments(Path(assign_path).read_bytes(), str(assign_path))
    return GroupFiles(
        kind,
        "acg_id",
        [(d.group_id, d.group_name, sag_rights_of_acg(d.rights)) for d in acg_defs.rows],
        [(a.username, a.group_id, "", "", a.line) for a in acg_assigns.rows],
        list(acg_defs.diagnostics) + list(acg_assigns.diagnostics),
        frozenset(d.group_id or d.group_name for d in acg_defs.rows if d.is_default),
    )


def read_contacts(users_path: Path) -> tuple[dict[str, tuple[str, str]], list[Diagnostic]]:
    """REDCap's user export (User Rights / API `content=user`): lower-case username -> (e-mail, name),
    from its optional email, firstname and lastname columns."""

    parsed = read_redcap_users(Path(users_path).read_bytes(), str(users_path))
    contacts = {}
    for user in parsed.rows:
        extra = user.extra
        name = f"{extra.get('firstname', '').strip()} {extra.get('lastname', '').strip()}".strip()
        contacts[user.username.lower()] = (extra.get("email", "").strip(), name)
    return contacts, list(parsed.diagnostics)


def import_groups(
    root: Path, kind: str, defs_path: Path, assign_path: Path, users_path: Path | None = None
) -> ImportResult:
    """`import sag` / `import acg`: new groups with their new members, new people in declared groups.
    users_path: REDCap's user export, for the e-mails and names an assignment file lacks (ACG: always)."""
    model = current_model(root)
    files = read_group_files(kind, defs_path, assign_path)
    ident_key = files.ident_key
    result = ImportResult(f"{defs_path} and {assign_path}")
    result.diagnostics += files.diagnostics
    contacts: dict[str, tuple[str, str]] = {}
    if users_path is not None:
        contacts, problems = read_contacts(users_path)
        result.diagnostics += problems
    refuse_errors(result.diagnostics, "the import")
    by_ident = {getattr(g, ident_key): g.id for g in model.groups.values() if getattr(g, ident_key, None)}
    by_name = {(g.description or g.id): g.id for g in model.groups.values() if not g.builtin}
    taken = set(model.groups)
    new_groups: dict[str, dict] = {}
    no_rights_name = None
    for ident, name, rights in files.definitions:
        if builtin_no_rights(kind, ident, rights):
            by_ident[ident] = NO_RIGHTS
            no_rights_name = name
            continue
        if ident and ident in by_ident:
            continue  # already declared: an import adds, it does not rewrite a group under review
        if name in by_name and not getattr(model.groups[by_name[name]], ident_key, None):
            by_ident[ident] = by_name[name]  # the same group by its name (declared before it had an id)
            continue
        group = _new_group(
            model,
            taken,
            name,
            ident_key,
            ident,
            rights,
            default=(ident or name) in files.defaults and ident != DEFAULT_GROUP_ID,
        )
        new_groups[group["id"]] = group
        if ident:
            by_ident[ident] = group["id"]
    rows = []
    for username, ident, email, name, line in files.assignments:
        loc = Loc(str(assign_path), line)
        gid = by_ident.get(ident)
        if gid is None:
            result.diagnostics.append(
                error(
                    "csv-unknown-value",
                    f"{username}: group id {ident!r} is neither in {defs_path} nor declared in the configuration",
                    loc,
                )
            )
            continue
        known_email, known_name = contacts.get(username.lower(), ("", ""))
        rows.append((username, gid, email or known_email, name or known_name, loc))
    _place_people(result, model, rows, new_groups, without_email=True)
    refuse_errors(result.diagnostics, "the import")
    if NO_RIGHTS in result.members and not model.groups[NO_RIGHTS].loc.file.endswith(".yaml"):
        # the built-in group has no file yet: its first members declare it (it has no ceiling to write)
        new_groups[NO_RIGHTS] = {
            "id": NO_RIGHTS,
            **({"description": no_rights_name} if no_rights_name not in (None, "No Rights") else {}),
            "members": result.members.pop(NO_RIGHTS),
        }
    result.groups = list(new_groups.values())
    return result


def write_import(root: Path, result: ImportResult, dry_run: bool = False) -> list:
    """The edits an import makes to the configuration; written unless dry_run."""

    if result.empty:
        return []
    edits = plan_edits(
        Path(root),
        groups=result.groups,
        members=result.members,
        grants=result.grants,
        roles=result.roles,
        study_sites=result.study_sites,
        sites=result.sites,
        note=import_note(result.source),
    )
    if not dry_run:
        write_edits(Path(root), edits)
    return [e for e, _ in edits]
