#!/usr/bin/env python3
"""Write a realistic synthetic edcconf configuration repository (deterministic for a seed).

    python bench/generate.py --studies 2000 --out /tmp/org [--seed 7] [--systems openclinica,redcap,vault]

N studies over the three systems (about 50 forms each, some contact and tagged forms, custom roles),
300 sites in 20 countries, about 100 grants per study (N=2,000 gives about 20,000 people and 200,000
grants), groups with ceilings, external people with agreements, expiries. The output validates cleanly.
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


def generate(out: Path, studies: int, seed: int, systems: list[str]) -> dict:
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
        groups[group].append(line + "}\n")
    ceilings = {"staff": FULL_CEILING, "readers": READER_CEILING, "external": FULL_CEILING, "edc-team": FULL_CEILING}
    for gid, members in groups.items():
        (out / f"groups/{gid}.yaml").write_text(
            f"group:\n  id: {gid}\n  ceiling: {ceilings[gid]}\n  members:\n" + "".join(members)
        )

    grants_total = 0
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
            custom[f"custom_{r}"] = (
                base,
                f"{{base: {base}, tags: {{safety: {rng.choice(levels)}, imaging: {rng.choice(levels)}}}}}",
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
    return {
        "studies": studies,
        "people": n_people,
        "grants": grants_total,
        "sites": SITES,
        "countries": len(COUNTRIES),
        "systems": systems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--systems", default="openclinica,redcap,vault")
    args = parser.parse_args()
    stats = generate(args.out, args.studies, args.seed, args.systems.split(","))
    print(
        f"wrote {args.out}: {stats['studies']} studies, {stats['people']} people, {stats['grants']} grants, "
        f"{stats['sites']} sites in {stats['countries']} countries ({', '.join(stats['systems'])})"
    )


if __name__ == "__main__":
    main()
