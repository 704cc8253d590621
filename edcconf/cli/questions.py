"""Questions an auditor, a PI or a monitor asks: explain and who-can."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from ..diagnostics import UserError, suggest
from ..fs import refuse_leaving_output, write_atomically
from ..pipeline import load_desired
from ..questions.compliance import REPORTS as COMPLIANCE_REPORTS
from ..questions.compliance import compliance_reports
from ..questions.drift import refuse_unread
from ..questions.explain import add_observed
from ..questions.explain import explain as explain_access
from ..questions.qualifications import only_holders
from ..questions.who_can import parse_question
from ..questions.who_can import who_can as who_can_query
from ..rules import commands as commands_rules
from ..rules import references as references_rules
from ..source import load_sources
from ..state import open_backend
from ..validate import validate
from ..views.explain import render_explain
from ..views.who_can import render_who_can, who_can_csv
from ..workflow import environment_of, read_state
from .common import (
    allow_unread_option,
    at_option,
    config_option,
    json_option,
    parallelism_option,
    parse_at,
    print_json,
    root_dir,
    warn_unread,
)


@click.command()
@config_option
@click.argument("user")
@click.option("--study", "studies", multiple=True, help="Only this study (repeatable).")
@click.option("--env", "-e", "envs", multiple=True, help="Only this environment (repeatable).")
@click.option("--form", "forms", multiple=True, help="Only this form (repeatable).")
@at_option
@json_option
@click.pass_context
def explain(
    ctx: click.Context,
    config_dir: str | None,
    user: str,
    studies: tuple,
    envs: tuple,
    forms: tuple,
    at: str | None,
    as_json: bool,
) -> None:
    """Why USER has each level: grant → role → rule → ceiling, each with its file:line."""
    root = root_dir(ctx, config_dir)
    desired = load_desired(root, parse_at(at))
    doc = explain_access(desired, user, studies, envs, forms)
    add_observed(doc, desired.model, lambda env: _applied_observed(root, desired.model, env))
    print_json(doc) if as_json else click.echo(render_explain(doc), nl=False)


def _applied_observed(root, model, env: str) -> dict:
    """What the environment's applied state keeps of what the systems' files showed (`observed`), or
    nothing when it cannot be read: explain answers from the configuration and never fails on the state."""

    try:
        return dict(open_backend(root, model.environments[env]).read().effective.get("observed") or {})
    except (UserError, KeyError, OSError):
        return {}


@click.command("who-can")
@config_option
@click.argument("question", nargs=-1)
@click.option("--right", default=None, metavar="NAME=VALUE", help="A generic right at least this high.")
@click.option("--study", default=None, help="The study the form or ability belongs to.")
@click.option("--env", "-e", "envs", multiple=True, help="Only this environment (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text")
@click.option(
    "--qualification",
    default=None,
    metavar="ID",
    help="Only people who hold this qualification, valid on the as-of date (docs/qualifications.md).",
)
@at_option
@json_option
@click.pass_context
def who_can(
    ctx: click.Context,
    config_dir: str | None,
    question: tuple,
    right: str | None,
    study: str | None,
    envs: tuple,
    fmt: str,
    qualification: str | None,
    at: str | None,
    as_json: bool,
) -> None:
    """Who has a form level, a right or an ability: `who-can edit FORM --study S --env E`."""
    q = parse_question(question, right)
    desired = load_desired(root_dir(ctx, config_dir), parse_at(at))
    doc = who_can_query(desired, q, study, envs)
    if qualification is not None:
        doc = only_holders(desired, doc, qualification)
    if as_json or fmt == "json":
        print_json(doc)
    elif fmt == "csv":
        click.echo(who_can_csv(doc), nl=False)
    else:
        click.echo(render_who_can(doc), nl=False)


@click.command("test")
@config_option
@at_option
@json_option
@click.pass_context
def access_test(ctx: click.Context, config_dir: str | None, at: str | None, as_json: bool) -> None:
    """Run the access assertions in tests/access/*.yaml; exit 1 when one fails."""
    from ..questions.access_tests import load_assertions, run_assertions  # local: keeps start-up fast

    root = root_dir(ctx, config_dir)
    assertions, problems = load_assertions(root)
    if problems:
        raise UserError("the access tests cannot be read", problems)
    if not assertions:
        raise UserError(
            f"no access tests found in {root / 'tests' / 'access'} (files with `tests:` lists)",
            code=commands_rules.NO_TESTS.code,
        )
    outcomes = run_assertions(load_desired(root, parse_at(at)), assertions)
    failed = [o for o in outcomes if not o.passed]
    if as_json:
        print_json(
            {
                "format_version": 1,
                "passed": len(outcomes) - len(failed),
                "failed": len(failed),
                "results": [
                    {
                        "source": str(o.loc),
                        "assertion": o.what,
                        "passed": o.passed,
                        "expected": o.expected,
                        "actual": o.actual,
                    }
                    for o in outcomes
                ],
            }
        )
    else:
        for o in failed:
            click.echo(f"{o.loc.long}: FAIL {o.what}: expected {o.expected}, actual {o.actual}")
        click.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise click.exceptions.Exit(1)


@click.command()
@config_option
@click.option("--env", "-e", "env", required=True, help="Environment whose applied access to check.")
@click.option("--status", "statuses", multiple=True, help="Only studies with this status (repeatable).")
@click.option("--live", is_flag=True, help="Check what the providers read from the live systems.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text")
@click.option(
    "--report",
    type=click.Choice(list(COMPLIANCE_REPORTS)),
    default="pairs_all",
    help="Which report --format csv prints (pairs: one row per non-compliant right).",
)
@click.option("--user", "users", multiple=True, help="Only this user (repeatable).")
@click.option("--group", "groups", multiple=True, help="Only people of this group (repeatable).")
@click.option("--study", "studies", multiple=True, help="Only this study (repeatable).")
@click.option(
    "--right",
    "rights",
    multiple=True,
    help="Only pairs with this right above the ceiling: form_access, redcap.design or design (repeatable).",
)
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(file_okay=False),
    help="Write the six reports as CSV files into this directory.",
)
@allow_unread_option
@parallelism_option
@at_option
@json_option
@click.pass_context
def compliance(
    ctx: click.Context,
    config_dir: str | None,
    env: str,
    statuses: tuple,
    live: bool,
    fmt: str,
    report: str,
    users: tuple,
    groups: tuple,
    studies: tuple,
    rights: tuple,
    out: str | None,
    allow_unread: bool,
    at: str | None,
    as_json: bool,
) -> None:
    """The six ACG/SAG compliance reports: applied rights above each person's current ceiling, each study's
    status, and users the configuration does not declare. With --live, a study whose live access could not
    be read is an error (exit 1) unless --allow-unread."""

    root = root_dir(ctx, config_dir)
    validated = validate(load_sources(root))  # ceilings may be below what is applied: that is the point
    if validated.model is None:
        raise UserError("the configuration cannot be read", validated.diagnostics.errors)
    applied = read_state(root, env)
    reads = None
    if live:
        from ..questions.live_access import live_effective  # local: keeps start-up fast

        effective, reads = live_effective(root, environment_of(root, env), applied, validated.model)
        if not allow_unread:
            refuse_unread(env, reads.unread)
        warn_unread(reads.unread)
        applied = replace(applied, effective=effective)
    model = validated.model
    for names, known, what in (
        (users, set(model.people) | set(applied.effective.get("accounts", {})), "user"),
        (groups, model.groups, "group"),
        (studies, model.studies, "study"),
    ):
        for name in names:
            if name not in known and not live:
                raise UserError(
                    f"unknown {what} {name!r}{suggest(name, known)}", code=references_rules.UNKNOWN_REFERENCE.code
                )
    from ..views.compliance import compliance_csv, render_compliance  # local: keeps start-up fast

    doc = compliance_reports(
        model, applied, parse_at(at), statuses, {"users": users, "groups": groups, "studies": studies, "rights": rights}
    )
    if reads is not None:
        # unchecked: every study not read live (its applied access is reported); unread: of those, the
        # studies whose target should have read them and could not (--allow-unread)
        doc["source"] = "live"
        doc["checked"] = list(reads.read)
        doc["unchecked"] = [{"study": s, "reason": why} for s, why in reads.unchecked]
        doc["unread"] = [{"study": s, "reason": why} for s, why in reads.unread]
    if out:
        refuse_leaving_output(root, Path(out), "write compliance reports")
        Path(out).mkdir(parents=True, exist_ok=True)
        for name in COMPLIANCE_REPORTS:
            path = Path(out) / f"compliance-{env}-{name}.csv"
            path.write_text(compliance_csv(doc, name), encoding="utf-8")
            click.echo(f"wrote {path}", err=as_json or fmt != "text")
    if as_json or fmt == "json":
        print_json(doc)
    elif fmt == "csv":
        click.echo(compliance_csv(doc, report), nl=False)
    elif not out:
        click.echo(render_compliance(doc), nl=False)


@click.command()
@config_option
@click.option("--env", "-e", "envs", multiple=True, help="Environment (repeatable; default every one).")
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False), help="Directory to write to.")
@click.option("--applied", is_flag=True, help="Show the environment's applied state.")
@click.option(
    "--live",
    is_flag=True,
    help="Show what the systems hold now (read as drift reads them); a study that cannot be read is an "
    "error unless --allow-unread.",
)
@allow_unread_option
@at_option
@click.pass_context
def report(
    ctx: click.Context,
    config_dir: str | None,
    envs: tuple,
    out: str,
    applied: bool,
    live: bool,
    allow_unread: bool,
    at: str | None,
) -> None:
    """Write the access report per environment: OUT/ENV/index.html (overview with charts), one page per study
    in OUT/ENV/studies/, and OUT/ENV.csv and OUT/ENV.json. Shows the declared access unless --applied or --live."""
    from ..questions.report import matrix_csv_chunks  # local: keeps start-up fast
    from ..questions.report_sources import report_document  # local: keeps start-up fast
    from ..views.report_html import write_report_site  # local: loads jinja2

    if applied and live:
        raise click.UsageError("--applied and --live show different sources: give one")
    source = "live" if live else "applied" if applied else "declared"
    root = root_dir(ctx, config_dir)
    refuse_leaving_output(root, Path(out), "write a report")  # `--out build/report` with build/ a link out
    desired = load_desired(root, parse_at(at), list(envs) or None)
    for env in envs or desired.model.environments:
        doc = report_document(root, desired, env, source, allow_unread, warn_unread)
        index, *others = write_report_site(doc, matrix_csv_chunks(doc), Path(out))
        click.echo(f"wrote {index} ({doc['source']}; {len(doc['studies'])} study pages in {index.parent / 'studies'})")
        for path in others:
            click.echo(f"wrote {path}")


@click.command()
@config_option
@click.option("--study", "studies", multiple=True, help="Only this study's part (repeatable).")
@click.option("--user", "people", multiple=True, help="Only this person's part (repeatable).")
@click.option("--env", "-e", "envs", multiple=True, help="Only grants active in this environment (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["dot", "graphml"]), default="dot", show_default=True)
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to this file (default: standard output).",
)
@at_option
@click.pass_context
def graph(
    ctx: click.Context,
    config_dir: str | None,
    studies: tuple,
    people: tuple,
    envs: tuple,
    fmt: str,
    out: str | None,
    at: str | None,
) -> None:
    """The effective permission graph (person → group, role → form level, site), as DOT or GraphML."""
    # networkx is imported here only: a fifth of a second that no other command should pay on start
    from ..questions.graph import permission_subgraph  # local: loads networkx
    from ..views.graph import to_dot, to_graphml  # local: loads networkx

    root = root_dir(ctx, config_dir)
    desired = load_desired(root, parse_at(at))
    chosen = permission_subgraph(desired, studies, people, envs)
    text = to_graphml(chosen) if fmt == "graphml" else to_dot(chosen)
    if out is None:
        click.echo(text, nl=False)
        return
    target = refuse_leaving_output(root, Path(out), "write a graph")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, text.encode("utf-8"), durable=False)
    click.echo(f"Wrote {out}: {chosen.number_of_nodes()} nodes, {chosen.number_of_edges()} edges.", err=True)


def register(group: click.Group) -> None:
    group.add_command(graph)
    group.add_command(report)
    group.add_command(compliance)
    group.add_command(explain)
    group.add_command(who_can)
    group.add_command(access_test)
