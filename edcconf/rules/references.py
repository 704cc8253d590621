"""References between declarations and the uniqueness of ids (docs/format.md, 001).

Every name used must be declared: users, sites, roles, tags, forms, environments, groups."""

from __future__ import annotations

from collections.abc import Iterable

from ..catalogs import catalog
from ..diagnostics import Diagnostic, Loc, error, suggest
from ..model import ALL, Model, Study
from .book import rule

FAMILY = "references"

UNKNOWN_REFERENCE = rule(
    "unknown-reference",
    family=FAMILY,
    source="docs/format.md",
    kind="error",
    summary=(
        "every user, site, role, base role, tag, form tag, environment, country and REDCap right key named is declared"
    ),
    text=(
        "every user, site, role, base role, tag, form tag, environment, country and REDCap right key "
        'named is declared (with "did you mean")'
    ),
    example="unknown user 'mona.mom'; did you mean 'mona.mon'?",
)

DUPLICATE_ID = rule(
    "duplicate-id",
    family=FAMILY,
    source="001",
    kind="error",
    summary="ids, usernames and e-mails (for OpenClinica) are unique, compared folded",
    text=(
        "`openclinica_domain:` is declared once; ids of environments, sites, groups, studies, forms and "
        "usernames are unique, compared folded: ignoring case, full-width (NFKC) and invisible "
        "characters, so that `HEART-01` and `heart-01` are never two studies (nor two folders); two "
        "people sharing an e-mail (compared folded the same way) when either has access to an OpenClinica "
        "study (any grant, any environment; both positions named); a person is in one group; one grant "
        "per person, role, study and environment (every site of a role in one grant); a custom role never "
        "reuses a base role's name"
    ),
    example="username 'cara.crc' is declared twice (ignoring case); first at groups/more.yaml:4",
)

__all__ = ["check_references", "unknown"]


def unknown(what: str, name: str, known: Iterable[str], loc: Loc, where: str = "") -> Diagnostic:
    return error(UNKNOWN_REFERENCE.code, f"unknown {what} {name!r}{where}{suggest(name, known)}", loc)


def check_references(model: Model) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    for study in model.studies.values():
        problems.extend(_study_references(model, study))
    return problems


def _study_references(model: Model, study: Study) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    locs = study.locs
    people = model.people
    if study.protocol:
        for username in (study.protocol.pi, *study.protocol.co_pis, *study.protocol.staff):
            if username and username not in people:
                out.append(unknown("user", username, people, study.protocol.loc, " in the protocol"))
    for env in study.environments:
        if env not in model.environments:
            out.append(unknown("environment", env, model.environments, locs.get("environments", study.loc)))
    for site in study.sites:
        if site not in model.sites:
            out.append(unknown("site", site, model.sites, locs.get("sites", study.loc)))
    tags = set(study.tags)
    for form in study.forms:
        for tag in form.tags:
            if tag not in tags:
                out.append(unknown("tag", tag, tags, form.loc, f" on form {form.id} (declare it in the study's tags)"))
    cat = catalog(study.system)
    base_roles = cat.roles if cat else {}
    for role in study.roles.values():
        if role.id in base_roles:
            out.append(
                error(
                    DUPLICATE_ID.code,
                    f"custom role {role.id!r} has the name of a base role of {study.system}; choose another name",
                    role.loc,
                )
            )
        if role.base not in base_roles:
            out.append(unknown(f"base role of {study.system}", role.base, base_roles, role.locs.get("base", role.loc)))
        for tag in role.tags:
            if tag not in tags:
                out.append(unknown("tag", tag, tags, role.locs.get("tags", role.loc), f" in role {role.id}"))
    roles = {**base_roles, **study.roles}
    study_sites = set(study.sites)
    for grant in study.access:
        g = grant.locs
        if grant.user not in people:
            out.append(unknown("user", grant.user, people, g.get("user", grant.loc)))
        if grant.role not in roles:
            out.append(unknown("role", grant.role, roles, g.get("role", grant.loc), f" in study {study.id}"))
        if grant.environments != ALL:
            for env in grant.environments:
                if env not in study.environments:
                    known = model.environments if env not in model.environments else study.environments
                    where = (
                        ""
                        if env not in model.environments
                        else f" for study {study.id}, which lists {', '.join(study.environments)}"
                    )
                    out.append(unknown("environment", env, known, g.get("environments", grant.loc), where))
        if isinstance(grant.sites, tuple):
            for site in grant.sites:
                if site not in study_sites:
                    where = f" (not a site of study {study.id})" if site in model.sites else ""
                    out.append(unknown("site", site, study_sites, g.get("sites", grant.loc), where))
        for country in grant.countries or ():
            countries = {model.sites[s].country for s in study.sites if s in model.sites}
            if country not in countries:
                out.append(
                    unknown(
                        "country",
                        country,
                        countries,
                        g.get("countries", grant.loc),
                        f": no site of study {study.id} is in it",
                    )
                )
    return out
