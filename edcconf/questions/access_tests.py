"""`edcconf test`: access assertions kept in the configuration repository (`tests/access/*.yaml`).

    tests:
      - {user: jane.doe, study: CARDIO-01, env: production, form: adverse_events, level: edit}   # exactly
      - cannot: {user: bob.smith, study: CARDIO-01, env: test, form: vitals, level: read}      # not even
      - {user: cara.crc, study: HEART-01, env: test, site: NYC, form: vitals, level: read}      # at one site

Without `site:`, a person with a different role at different sites has the most any of their roles gives.
      - {who-can: edit adverse_events, study: CARDIO-01, env: production, expect: [jane.doe]}  # exactly these

Files are read with the positional loader, so a failure names the file:line of its assertion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import Diagnostic, Loc, UserError, error
from ..model import level_rank
from ..pipeline import Desired
from ..resolve.effective import person_grants, usable
from ..rules import files as files_rules
from ..rules import references as references_rules
from ..source import read_config
from ..source.yamlfile import ParsedFile, parse_yaml
from .who_can import parse_question, who_can


@dataclass(frozen=True)
class Outcome:
    loc: Loc
    what: str
    passed: bool
    expected: str
    actual: str


def load_assertions(root: Path) -> tuple[list[tuple[ParsedFile, int, dict]], list[Diagnostic]]:
    found: list[tuple[ParsedFile, int, dict]] = []
    problems: list[Diagnostic] = []
    for path in sorted((Path(root) / "tests" / "access").glob("*.y*ml")):
        rel = path.relative_to(root).as_posix()
        raw = read_config(Path(root), path, rel, problems)  # no link out of the repository, no huge file
        if raw is None:
            continue
        parsed, diags = parse_yaml(raw, rel)
        problems += diags
        if parsed is None:
            continue
        items = parsed.data.get("tests") if isinstance(parsed.data, dict) else None
        if not isinstance(items, list):
            problems.append(
                error(files_rules.SCHEMA.code, "an access test file holds `tests:`, a list of assertions", parsed.loc())
            )
            continue
        found += [(parsed, i, item) for i, item in enumerate(items)]
    return found, problems


def _level(desired: Desired, user: str, study: str, env: str, form: str, site: str | None = None) -> str:
    env_state = desired.resolution.environments.get(env)
    if env_state is None:
        raise UserError(f"unknown environment {env!r}", code=references_rules.UNKNOWN_REFERENCE.code)
    held = [(key, g) for key, g in person_grants(env_state.state["grants"], user).get(study, []) if usable(g)]
    if site is not None:
        held = [(key, g) for key, g in held if site in g["sites"]]
    # without a site: the most the person can do on the form at any of their sites (roles per site)
    levels = [env_state.state["roles"][g["role_ref"]]["forms"].get(form, "none") for _, g in held]
    return max(levels, key=level_rank, default="none")


def run_assertions(desired: Desired, assertions: list[tuple[ParsedFile, int, dict]]) -> list[Outcome]:
    out = []
    for parsed, i, item in assertions:
        loc = parsed.loc(("tests", i))
        try:
            out.append(_check(desired, item, loc))
        except (KeyError, TypeError, AttributeError) as exc:
            out.append(
                Outcome(
                    loc,
                    "malformed assertion",
                    False,
                    "user, study, env, form, level (or cannot: / who-can: with expect:)",
                    f"missing {exc}",
                )
            )
        except UserError as exc:
            out.append(Outcome(loc, "assertion", False, "a valid question", exc.message))
    return out


def _check(desired: Desired, item: dict, loc: Loc) -> Outcome:
    if "who-can" in item:
        words = tuple(str(item["who-can"]).split())
        doc = who_can(
            desired, parse_question(words, None), item.get("study"), (item["env"],) if item.get("env") else ()
        )
        actual = sorted({r["user"] for r in doc["people"] if not r.get("implicit")})  # grants, not admins
        expected = sorted(item["expect"])
        return Outcome(
            loc,
            f"who-can {' '.join(words)} in {item.get('study')} ({item.get('env', 'all')})",
            actual == expected,
            ", ".join(expected) or "nobody",
            ", ".join(actual) or "nobody",
        )
    negated = "cannot" in item
    a = item["cannot"] if negated else item
    site = a.get("site")
    level = _level(desired, a["user"], a["study"], a["env"], a["form"], site)
    at = f" at {site}" if site else ""
    what = f"{a['user']} {'cannot' if negated else 'has'} {a['level']} on {a['study']}/{a['form']}{at} in {a['env']}"
    if negated:
        ok = level_rank(level) < level_rank(a["level"])
        return Outcome(loc, what, ok, f"below {a['level']}", level)
    return Outcome(loc, what, level == a["level"], a["level"], level)
