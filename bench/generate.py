#!/usr/bin/env python3
"""Write a realistic synthetic edcconf configuration repository (deterministic for a seed).

    python bench/generate.py --studies 2000 --out /tmp/org [--seed 7] [--systems openclinica,redcap,vault]

N studies over the three systems (about 50 forms each, some contact and tagged forms, custom roles),
300 sites in 20 countries, about 100 grants per study (N=2,000 gives about 20,000 people and 200,000
grants), groups with ceilings, external people with agreements, expiries. The output validates cleanly.

--governance adds what #20 asks to measure: qualifications held by every person (two, each required by
base-role defaults or custom roles), five separation-of-duties policies (every kind), and an access
review campaign of the test environment with a review file per study, a tenth of them with decisions
(the output is then a git repository: decisions are attributed from git).
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

COUNTRIES = [
    "US",
    "CA",
    "GB",
    "FR",
    "DE",
    "NL",
    "BE",
    "ES",
    "IT",
    "SE",
    "NO",
    "DK",
    "FI",
    "PL",
    "CH",
    "AT",
    "AU",
    "JP",
    "BR",
    "ZA",
]
SITES = 300
GRANTS_PER_STUDY = 100
FORMS_PER_STUDY = 50
PEOPLE_PER_STUDY = 10  # people in the organisation per study (N=2,000 → 20,000)

# base role -> (scope, weight) per system; scopes: study (all sites), site (listed sites), both
ROLES = {
    "openclinica": {
        "data_manager": ("study", 2),
        "data_specialist": ("study", 1),
        "data_entry": ("both", 6),
        "monitor": ("both", 4),
        "viewer": ("both", 2),
        "crc": ("site", 10),
        "investigator": ("site", 4),
    },
    "redcap": {
        "project_owner": ("study", 1),
        "data_manager": ("study", 2),
        "data_entry": ("both", 12),
        "monitor": ("both", 4),
        "read_only": ("both", 3),
        "statistician": ("study", 1),
    },
    "vault": {
        "lead_data_manager": ("study", 1),
        "data_manager": ("study", 2),
        "cra": ("both", 5),
        "crc": ("site", 10),
        "investigator": ("site", 4),
        "read_only": ("both", 2),
    },
}
READ_ONLY_ROLE = {"openclinica": "viewer", "redcap": "read_only", "vault": "read_only"}
# Ceilings fail closed (an unnamed right is none): the full one says so explicitly, the reader's names
# the REDCap rights its read-only roles carry.
FULL_CEILING = "{unnamed: unlimited}"
READER_CEILING = "{form_access: read, redcap: {reports: 1, graphical: 1}}"


def flow(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def generate(out: Path, studies: int, seed: int, systems: list[str], governance: bool = False) -> dict:
    rng = random.Random(seed)
    if out.exists():
        shutil.rmtree(out)
    for d in ("environments", "groups", "studies"):
        (out / d).mkdir(parents=True)
    (out / "environments/test.yaml").write_text(
        "environment:\n  name: test\n  safety: {max_revocations: 100000}\n  targets:\n"
        + "".join(f"    {s}: {{provider: csv, out: build/test/{s}}}\n" for s in systems)
    )
    (out / "environments/production.yaml").write_text(
        "environment:\n  name: production\n  protected: true\n  safety: {max_revocations: 1000}\n  targets:\n"
        + "".join(f"    {s}: {{provider: csv, out: build/production/{s}}}\n" for s in systems)
    )
    sites = [(f"S{i:03d}", COUNTRIES[i % len(COUNTRIES)]) for i in range(SITES)]
    (out / "environments/sites.yaml").write_text(
        "sites:\n" + "".join(f"  - {{id: {sid}, name: Site {sid}, country: {c}, timezone: UTC}}\n" for sid, c in sites)
    )

    n_people = max(PEOPLE_PER_STUDY * studies, GRANTS_PER_STUDY + 20)  # a study needs ~100 distinct people
    people = [f"u{i:05d}" for i in range(n_people)]
    readers = set(people[: n_people // 10])  # a restrictive ceiling: read-only roles only
    externals = set(people[n_people // 10 : n_people // 10 + n_people // 20])
    admins = people[-5:]
    groups = {"staff": [], "readers": [], "external": [], "edc-team": []}
    for i, p in enumerate(people):
        group = "readers" if p in readers else "external" if p in externals else "edc-team" if p in admins else "staff"
        line = f"    - {{username: {p}, email: {p}@org{i % 50}.example.org, name: Person {i}"
        if p in admins:
            line += ", type: admin"
        if p in externals:
            line += f", external: {{organization: CRO {i % 7}, agreement_signed: 2026-01-15, basis: sponsor}}"
        expires = rng.choice(["2025-12-31", "2027-06-30"]) if rng.random() < 0.02 else None
        if p in externals and expires != "2025-12-31":
            expires = "2027-01-14"  # a sponsor's access expires, within a year of the agreement (000)
        if expires:
            line += f", expires: {expires}"
        if governance:
            line += ", qualifications: {gcp: {completed: 2025-06-01, expires: 2029-06-01}, study-training: {completed: 2025-09-01}}"
        groups[group].append(line + "}\n")
    ceilings = {"staff": FULL_CEILING, "readers": READER_CEILING, "external": FULL_CEILING, "edc-team": FULL_CEILING}
    for gid, members in groups.items():
        (out / f"groups/{gid}.yaml").write_text(
            f"group:\n  id: {gid}\n  ceiling: {ceilings[gid]}\n  members:\n" + "".join(members)
        )

    grants_total = 0
    reviews: list[tuple[str, str, list[str]]] = []
    for n in range(studies):
        system = systems[n % len(systems)]
        sid = f"{system[:2].upper()}-{n:05d}"
        study_sites = rng.sample(sites, rng.randint(5, 20))
        site_ids = [s for s, _ in study_sites]
        countries = sorted({c for _, c in study_sites})
        tags = ["safety", "pii", "imaging"]
        forms = []
        for f in range(FORMS_PER_STUDY):
            extra = ""
            if f % 17 == 3:
                extra += ", contact_data: true"
            if f % 11 == 5:
                extra += f", tags: [{tags[f % 3]}]"
            forms.append(f"    - {{id: form_{f:02d}{extra}}}\n")
        levels = ["read", "edit"] if system == "redcap" else ["read", "review", "edit"]
        base_roles = ROLES[system]
        custom = {}
        for r in range(3):
            base = rng.choice([b for b, (scope, _) in base_roles.items() if scope != "study"])
            requires = ", requires: [study-training]" if governance else ""
            custom[f"custom_{r}"] = (
                base,
                f"{{base: {base}, tags: {{safety: {rng.choice(levels)}, imaging: {rng.choice(levels)}}}{requires}}}",
            )
        role_names = list(base_roles) + list(custom)
        weights = [w for _, w in base_roles.values()] + [3] * len(custom)
        members = rng.sample(people[:-5], GRANTS_PER_STUDY - 1)
        access = [
            f"    - {{user: {admins[n % 5]}, role: {next(b for b, (s, _) in base_roles.items() if s == 'study' and 'manager' in b)}, environments: all, sites: all}}\n"
        ]
        for person in members:
            role = READ_ONLY_ROLE[system] if person in readers else rng.choices(role_names, weights)[0]
            base = custom[role][0] if role in custom else role
            scope = base_roles[base][0]
            if scope == "study" or (scope == "both" and rng.random() < 0.3):
                where = "sites: all"
            elif system == "vault" and rng.random() < 0.4:
                where = f"countries: {flow(rng.sample(countries, min(2, len(countries))))}"
            elif system == "redcap":
                where = f"sites: [{rng.choice(site_ids)}]"
            else:
                where = f"sites: {flow(rng.sample(site_ids, rng.randint(1, 3)))}"
            env = "all" if rng.random() < 0.8 else rng.choice(["[test]", "[production]"])
            expires = f", expires: {rng.choice(['2026-03-31', '2027-12-31'])}" if rng.random() < 0.05 else ""
            access.append(f"    - {{user: {person}, role: {role}, environments: {env}, {where}{expires}}}\n")
        grants_total += len(access)
        if governance:
            reviews.append((sid, members[0], access))
        template = (
            '  participant_id_template: "${siteId}-${(siteParticipantCount+1)?string[000]}"\n'
            if system == "openclinica"
            else ""
        )
        (out / f"studies/{sid.lower()}.yaml").write_text(
            f"study:\n  id: {sid}\n  name: Study {n}\n  system: {system}\n  status: production\n"
            f"  protocol: {{irb: IRB-{n:05d}, pi: {members[0]}}}\n  environments: [test, production]\n"
            f"  sites: {flow(site_ids)}\n{template}  tags: {flow(tags)}\n  forms:\n"
            + "".join(forms)
            + "  roles:\n"
            + "".join(f"    {name}: {spec}\n" for name, (_, spec) in custom.items())
            + "  access:\n"
            + "".join(access)
        )
    if governance:
        _governance(out, reviews, rng)
    return {
        "studies": studies,
        "people": n_people,
        "grants": grants_total,
        "sites": SITES,
        "countries": len(COUNTRIES),
        "systems": systems,
    }


GOVERNANCE_QUALIFICATIONS = """qualifications:
  - {id: gcp, name: Good Clinical Practice training, notify_days: 30, base_roles: {openclinica: all, redcap: all, vault: all}}
  - {id: study-training, name: Study protocol training, notify_days: 14}
"""
GOVERNANCE_POLICIES = """access_policies:
  - {id: no-self-monitoring, kind: exclusive, roles: [crc, monitor], scope: site}
  - {id: investigators-do-not-manage-data, kind: exclusive, roles: [investigator, data_manager], scope: study}
  - {id: user-managers, kind: max_holders, right: user_rights, max: 50}
  - {id: export-needs-form-access, kind: requires, right: data_export, at_least: full, requires: form_access}
  - {id: four-eyes, kind: requester_not_approver}
"""
CAMPAIGN = "test-2026-12"


def _governance(out: Path, reviews: list[tuple[str, str, list[str]]], rng: random.Random) -> None:
    """Qualifications, policies and an access review campaign of the test environment (see the docstring)."""
    import re
    import subprocess

    (out / "environments/qualifications.yaml").write_text(GOVERNANCE_QUALIFICATIONS)
    (out / "policies").mkdir()
    (out / "policies/separation-of-duties.yaml").write_text(GOVERNANCE_POLICIES)
    folder = out / "reviews" / CAMPAIGN
    folder.mkdir(parents=True)
    (folder / "campaign.yaml").write_text(
        f"review_campaign: {{id: {CAMPAIGN}, environment: test, started: 2026-12-01, due: 2027-06-30, "
        "warn_days: 14, after_due: expire, state_serial: 1}\n"
    )
    decided: list[tuple[str, str, list[str]]] = []
    for sid, pi, access in reviews:
        users = [
            m.group(1) for line in access if (m := re.search(r"user: ([^,]+),", line)) and "[production]" not in line
        ]
        keys = "".join(f"    - {sid}/{u}\n" for u in users)
        (folder / f"{sid}.yaml").write_text(
            f"access_review:\n  campaign: {CAMPAIGN}\n  study: {sid}\n  pi: {pi}\n  grants:\n{keys}"
            "  confirmed: []\n  revoke: []\n"
        )
        if rng.random() < 0.1:  # this study's PI confirms half of the grants, in a commit of their own
            decided.append((sid, pi, users[: len(users) // 2]))
    subprocess.run(["git", "init", "-q", str(out)], check=True)
    _commit(out, "Bench Admin", "admin@example.org", "generated organisation and campaign")
    for sid, pi, confirmed in decided:
        path = folder / f"{sid}.yaml"
        path.write_text(
            path.read_text().replace("  confirmed: []\n", "  confirmed:\n" + "".join(f"    - {u}\n" for u in confirmed))
        )
        _commit(out, f"PI {pi}", f"{pi}@org{int(pi[1:]) % 50}.example.org", f"{sid}: access review")


def _commit(out: Path, name: str, email: str, message: str) -> None:
    import subprocess

    git = ["git", "-c", f"user.name={name}", "-c", f"user.email={email}", "-C", str(out)]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", message], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--systems", default="openclinica,redcap,vault")
    parser.add_argument("--governance", action="store_true", help="qualifications, five policies, a review campaign")
    args = parser.parse_args()
    stats = generate(args.out, args.studies, args.seed, args.systems.split(","), args.governance)
    print(
        f"wrote {args.out}: {stats['studies']} studies, {stats['people']} people, {stats['grants']} grants, "
        f"{stats['sites']} sites in {stats['countries']} countries ({', '.join(stats['systems'])})"
    )


if __name__ == "__main__":
    main()
