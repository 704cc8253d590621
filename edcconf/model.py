"""The validated model: typed, immutable declarations, each carrying where it was written.

Built by `validate.build` from schema-valid documents; read by every later stage. Mappings are
read-only views (MappingProxyType) so that no stage can change what an earlier one decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from .diagnostics import Loc

FORM_LEVELS = ("none", "read", "review", "edit")
ALL = "all"
K = TypeVar("K")
V = TypeVar("V")


def frozen_map(items: Mapping[K, V] | None = None) -> Mapping[K, V]:
    return MappingProxyType(dict(items or {}))


LEVEL_RANK = {level: rank for rank, level in enumerate(FORM_LEVELS)}


def level_rank(level: str) -> int:
    return LEVEL_RANK[level]


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    country: str
    timezone: str | None
    city: str | None
    loc: Loc


@dataclass(frozen=True)
class External:
    organization: str | None
    agreement_signed: date | None
    basis: str | None
    justification: str | None
    requested_by: str | None
    loc: Loc
    approved_by: str | None = None  # non-research: the EDC administrator who approved the access (000)
    phi_protections: str | None = None  # non-research where PHI is collected: the protections' documentation
    locs: Mapping[str, Loc] = field(default_factory=frozen_map)


@dataclass(frozen=True)
class HeldQualification:
    """A qualification a person holds (a training, an agreement): when completed, until when it is valid."""

    completed: date | None
    expires: date | None  # None: does not expire; valid through this day
    id: str
    # No position: people who hold the same qualifications with the same dates share one mapping of these
    # (validate.build_qualifications); where a person's entry is written is Person.qualification_loc.


@dataclass(frozen=True)
class Qualification:
    """A declared qualification (`qualifications:`); base_roles: system -> `all` or base role ids whose
    grants (and those of every custom role derived from them) require it."""

    id: str
    name: str | None
    notify_days: int
    base_roles: Mapping[str, str | tuple[str, ...]]
    loc: Loc
    locs: Mapping[str, Loc] = field(default_factory=frozen_map)


@dataclass(frozen=True)
class Person:
    username: str
    email: str | None  # None: not known yet (an ACG assignment file carries none); see rules.identity
    name: str
    type: str  # user | admin
    status: str  # active | deactivated
    expires: date | None
    external: External | None
    group: str
    loc: Loc
    locs: Mapping[str, Loc] = field(default_factory=frozen_map)
    qualifications: Mapping[str, HeldQualification] = field(default_factory=frozen_map)  # id -> held

    def expired(self, as_of: date) -> bool:
        return self.expires is not None and self.expires < as_of

    def qualification_loc(self, qid: str) -> Loc:
        """Where this person's `qualifications:` names qid: its own line when the positions are known
        (validate.nodes.LazyLocs.nested), else the `qualifications:` key, else the person."""
        nested = getattr(self.locs, "nested", None)
        found = nested(("qualifications", qid)) if nested is not None else None
        return found or self.locs.get("qualifications") or self.loc


@dataclass(frozen=True)
class Group:
    id: str
    description: str | None
    ceiling: Mapping[str, str]  # every generic right -> highest allowed value (fails closed: rules.ceilings)
    redcap_ceiling: Mapping[str, int]  # every REDCap SAG key -> highest allowed value
    message: str | None
    members: tuple[str, ...]
    loc: Loc
    builtin: bool = False
    sag_id: str | None = None  # the REDCap SAG / ACG this group is, when imported from one
    acg_id: str | None = None
    default: bool = False  # REDCap's default group (ACG is_default_group)
    extends: str | None = None  # the group whose ceiling this one starts from
    unlimited: bool = False  # `unnamed: unlimited`: rights the ceiling does not name are not limited
    # the ceiling as written: generic right -> level, and `redcap` -> {SAG key -> value}
    named: Mapping[str, Any] = field(default_factory=frozen_map)


@dataclass(frozen=True)
class Target:
    system: str
    provider: str
    out: str | None
    url: str | None
    token_env: str | None
    loc: Loc
    vault_user_defaults: Mapping[str, str] = field(default_factory=frozen_map)
    version: str | None = None  # REDCap: the version files and API calls are written for
    requests_per_second: float | None = None  # REDCap API: a cap on requests started per second per host


@dataclass(frozen=True)
class Environment:
    name: str
    protected: bool
    safety: Mapping[str, float]
    state: Mapping[str, str]
    security: Mapping[str, object]
    targets: Mapping[str, Target]
    loc: Loc
    external: Mapping[str, int] = field(default_factory=frozen_map)  # {sponsor_max_days} (rules.external)
    alerts: Mapping[str, object] = field(default_factory=frozen_map)  # compliance alerts (004): smtp, intervals


@dataclass(frozen=True)
class Form:
    id: str
    name: str | None
    contact: bool
    tags: tuple[str, ...]
    loc: Loc


@dataclass(frozen=True)
class Role:
    """A study's custom role: derived from a base role of the study's system."""

    id: str
    base: str
    default: str | None
    tags: Mapping[str, str]
    contact_forms: str | None
    redcap: Mapping[str, int]
    loc: Loc
    locs: Mapping[str, Loc] = field(default_factory=frozen_map)
    redcap_forms: Mapping[str, Mapping[str, int]] = field(default_factory=frozen_map)  # form -> {view, export}
    redcap_role: Mapping[str, str] = field(default_factory=frozen_map)  # {name, label} of a REDCap user role
    requires: tuple[str, ...] = ()  # qualification ids a grant of this role requires (rules.qualifications)


@dataclass(frozen=True)
class Grant:
    study: str
    user: str
    role: str
    environments: str | tuple[str, ...]  # "all" or ids
    sites: str | tuple[str, ...] | None  # "all", ids, or None when countries are given
    countries: tuple[str, ...] | None
    expires: date | None
    loc: Loc
    locs: Mapping[str, Loc] = field(default_factory=frozen_map)
    per_role: bool = False  # a second role of the person in the study (roles per site)
    disabled: bool = False  # Vault Study Status Disabled: on record, no access (003)

    @property
    def key(self) -> str:
        """`<study>/<username>`; `<study>/<username>/<role>` for a person's second role in the study (a
        different role at other sites, 001/003): their first grant keeps the plain key (validate.build)."""
        return f"{self.study}/{self.user}/{self.role}" if self.per_role else f"{self.study}/{self.user}"


@dataclass(frozen=True)
class Protocol:
    irb: str | None
    pi: str | None
    co_pis: tuple[str, ...]
    staff: tuple[str, ...]
    loc: Loc


@dataclass(frozen=True)
class Study:
    id: str
    name: str
    system: str
    status: str | None
    protocol: Protocol | None
    environments: tuple[str, ...]
    sites: tuple[str, ...]
    participant_id_template: str | None
    tags: tuple[str, ...]
    forms: tuple[Form, ...]
    roles: Mapping[str, Role]
    access: tuple[Grant, ...]
    redcap: Mapping[str, object]
    loc: Loc
    locs: Mapping[str, Loc] = field(default_factory=frozen_map)
    collects_phi: bool | None = None  # None: when it has a contact form (rules.external.collects_phi)


@dataclass(frozen=True)
class OpenClinicaDomain:
    """The settings of a whole OpenClinica 4 domain (001): MFA and the password rules, as declared
    (`openclinica_domain:`; absent keys keep OpenClinica's own values, see rules.openclinica_security)."""

    mfa_required: bool
    password: Mapping[str, object]
    loc: Loc
    locs: Mapping[str, Loc] = field(default_factory=frozen_map)


@dataclass(frozen=True)
class AccessPolicy:
    """A separation-of-duties constraint over the effective permissions (`access_policies:`, docs/policies.md).
    kind: exclusive (roles or tags, scope study|site), max_holders (right, at_least, max), requires (right,
    at_least, requires) or requester_not_approver; studies: study ids or study tags it applies to (empty: all)."""

    id: str
    kind: str
    description: str | None
    enforcement: str  # error | warn
    studies: tuple[str, ...]
    loc: Loc
    roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    scope: str = "study"  # study | site
    right: str | None = None
    at_least: str | None = None  # the lowest value of `right` that counts (default: any value above none)
    max: int | None = None
    requires: str | None = None
    locs: Mapping[str, Loc] = field(default_factory=frozen_map)


@dataclass(frozen=True)
class Attribution:
    """Who wrote a line of a review file and when, from git (source.blame); commit None: not committed."""

    author: str
    email: str | None
    commit: str | None
    when: date | None

    @property
    def committed(self) -> bool:
        return self.commit is not None


@dataclass(frozen=True)
class ReviewDecision:
    """One entry of a study review's `confirmed:` or `revoke:` (a username or a grant key)."""

    entry: str
    decision: str  # confirmed | revoke
    keys: tuple[str, ...]  # the grant keys under review it names (none: review-unknown-grant)
    by: Attribution
    loc: Loc


@dataclass(frozen=True)
class StudyReview:
    """`access_review:`: a study's grants under a campaign's review, and the PI's decisions."""

    campaign: str
    study: str
    pi: str | None
    grants: tuple[str, ...]  # the grant keys under review (as applied when the campaign started)
    decisions: tuple[ReviewDecision, ...]
    loc: Loc


@dataclass(frozen=True)
class ReviewCampaign:
    """`review_campaign:` (reviews/<id>/campaign.yaml) with its studies' reviews (docs/reviews.md)."""

    id: str
    environment: str
    started: date
    due: date
    warn_days: int
    after_due: str  # expire | warn
    state_serial: int | None
    loc: Loc
    studies: Mapping[str, StudyReview] = field(default_factory=frozen_map)


@dataclass(frozen=True)
class Model:
    root: Path
    digest: str
    environments: Mapping[str, Environment]
    sites: Mapping[str, Site]
    groups: Mapping[str, Group]
    people: Mapping[str, Person]
    studies: Mapping[str, Study]
    openclinica_domain: OpenClinicaDomain | None = None  # None: OpenClinica's defaults (001)
    policy: Mapping[str, object] = field(default_factory=frozen_map)  # `policy:` (organisation-wide settings)
    policy_loc: Loc | None = None
    access_policies: tuple[AccessPolicy, ...] = ()  # `access_policies:` (separation of duties)
    reviews: Mapping[str, ReviewCampaign] = field(default_factory=frozen_map)  # access review campaigns by id
    qualifications: Mapping[str, Qualification] = field(default_factory=frozen_map)  # `qualifications:`


def site_scope(model: Model, study: Study, grant: Grant) -> list[str]:
    """The sites a grant reaches in its study: all of them, those in its countries, or those it names."""
    if grant.sites == ALL:
        return sorted(study.sites)
    if grant.countries is not None:
        wanted = set(grant.countries)
        return sorted(s for s in study.sites if s in model.sites and model.sites[s].country in wanted)
    return sorted(set(grant.sites or ()))
