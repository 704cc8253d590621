"""The GitHub workflows and the action parse, and every edcconf command they run exists with those options
(shell variables in the action's scripts stand for values, so those words are given a value here)."""

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from edcconf.cli import cli

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTION = REPO / "action.yml"
VALUES = {'"${args[@]}"': "--env test", '"$plan"': "x.plan", '"$EDCCONF_REASON"': "why"}


def edcconf_invocations(run: str):
    for line in run.replace("\\\n", " ").splitlines():
        for shell, value in VALUES.items():
            line = line.replace(shell, value)
        line = re.sub(r'"\$\{\{ inputs\.[\w-]+ \}\}"', "value", line)
        for part in line.replace("||", ";").replace("&&", ";").split(";"):
            words = shlex.split(part.split(">")[0])
            if words and words[0] == "edcconf":
                yield words[1:]


def check_invocation(words: list[str]) -> None:
    group_options = {o for p in cli.params for o in getattr(p, "opts", [])}
    while words and words[0] in group_options:
        words = words[2:]
    name, args = words[0], words[1:]
    assert name in cli.commands, f"edcconf has no command {name!r}"
    command = cli.commands[name]
    ctx = click.Context(cli)
    command.make_context(name, list(args), parent=ctx, resilient_parsing=False)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_and_commands_exist(path):
    doc = yaml.safe_load(path.read_text())
    assert doc["jobs"], path
    steps = [step for job in doc["jobs"].values() for step in job["steps"]]
    runs = [step["run"] for step in steps if "run" in step]
    invocations = [w for run in runs for w in edcconf_invocations(run)]
    through_action = [step["with"]["command"] for step in steps if step.get("uses") == "./"]
    assert invocations or through_action, f"{path.name} runs no edcconf command"
    assert set(through_action) <= {"validate", "plan", "apply"}
    for words in invocations:
        check_invocation(words)


def test_the_actions_commands_exist():
    doc = yaml.safe_load(ACTION.read_text())
    runs = [step["run"] for step in doc["runs"]["steps"] if "run" in step]
    invocations = [w for run in runs for w in edcconf_invocations(run)]
    assert {w[2] for w in invocations} == {"validate", "plan", "apply"}
    for words in invocations:
        check_invocation(words)


def test_workflows_cover_pull_requests_and_merges():
    triggers = {p.name: yaml.safe_load(p.read_text())[True] for p in WORKFLOWS}  # PyYAML reads `on:` as True
    assert any("pull_request" in t for t in triggers.values())
    assert any("push" in t for t in triggers.values())
    apply_doc = yaml.safe_load((WORKFLOWS[0].parent / "apply.yml").read_text())
    assert apply_doc["jobs"]["apply-production"]["environment"] == "production"


def test_a_wrong_option_would_be_caught():
    with pytest.raises(click.UsageError):
        check_invocation(["plan", "--env", "test", "--frmat", "markdown"])
    with pytest.raises(AssertionError):
        check_invocation(["deploy", "--env", "test"])
