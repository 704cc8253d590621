"""The README's tour as a test: every `$ ` command of its ```sh blocks runs, in README order, against a copy
of the example organisation, and the lines the README shows after a command must be what it prints.

Shown output is matched line by line; a line `…` or `...` stands for any number of lines left out, and `…`
inside a line for any text (`as of …`, a long line cut short). A line `... something happens ...` is a step
the reader performs (the test does it, or says in PROSE why not). What a command
needs that the README does not show as a command (the emulator on a free port, files to import, a terminal
to answer a question) comes from SETUP, keyed by the README line, with the exit code expected when it is
not 0. `run_tour` takes the command that runs edcconf, so the same tour can run an installed edcconf."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = ("environments", "studies", "groups", "policies", "reviews", "tests/access")  # the example organisation
PUBLISHED = REPO / "tests" / "fixtures" / "published"  # REDCap's files, in its published formats
SKIP = "…"


@dataclass
class Step:
    line: int  # in README.md
    text: str  # the command (comment included) or the prose
    prose: bool = False
    shown: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return " ".join(self.text.split())


def steps(readme: str) -> list[Step]:
    """The tour's commands and prose steps with the output the README shows after each."""
    out: list[Step] = []
    in_block = False
    lines = readme.splitlines()
    i = 0
    while i < len(lines):
        line, i = lines[i], i + 1
        if line.startswith("```"):
            in_block = line.strip() == "```sh"
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            start, text = i, line[2:]
            while text.endswith("\\") and i < len(lines):  # a command continued on the next line
                text, i = text[:-1] + " " + lines[i].strip(), i + 1
            out.append(Step(start, text))
        elif re.fullmatch(r"\s*\.\.\. .+ \.\.\.", line):
            out.append(Step(i, line.strip()[4:-4], prose=True))
        elif not out or out[-1].prose:
            continue
        else:
            out[-1].shown.append(line.rstrip())
    return [s for s in out if s.prose or s.text.split()[0] != "make"]


def matches(shown: list[str], printed: list[str]) -> bool:
    """Whether the printed lines are the shown ones, `…`/`...` lines standing for any run of lines."""
    shown, printed = _trim(shown), _trim(printed)
    memo: dict[tuple[int, int], bool] = {}

    def at(i: int, j: int) -> bool:
        if (i, j) not in memo:
            if i == len(shown):
                memo[i, j] = j == len(printed)
            elif shown[i].strip() in (SKIP, "..."):
                memo[i, j] = at(i + 1, j) or (j < len(printed) and at(i, j + 1))
            else:
                memo[i, j] = j < len(printed) and _line(shown[i], printed[j]) and at(i + 1, j + 1)
        return memo[i, j]

    return at(0, 0)


def _trim(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _line(shown: str, printed: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in shown.split(SKIP))
    return re.fullmatch(pattern, printed) is not None


# -- what the tour needs that the README shows as prose or leaves to the reader -------------------------------


@dataclass(frozen=True)
class Setup:
    code: int = 0  # the exit code expected
    before: Callable[[Tour], None] | None = None
    terminal: str | None = None  # answer typed on a terminal (the command asks)
    check: Callable[[str], bool] | None = None  # what the README says of output it does not show
    why: str = ""


class Tour:
    """The running tour: its configuration directory, environment variables and the emulator."""

    def __init__(self, edcconf: list[str], workdir: Path, env: dict[str, str] | None, in_process: bool) -> None:
        self.edcconf, self.workdir, self.in_process = list(edcconf), workdir, in_process
        self.env = {**os.environ, "NO_COLOR": "1", "EDCCONF_PROGRESS": "0", **(env or {})}
        self.python = _python_of(self.edcconf)
        self.emulator: subprocess.Popen | None = None
        self.url = ""

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.workdir / rel
        text = path.read_text()
        assert old in text, f"{rel} no longer holds {old!r}"
        path.write_text(text.replace(old, new, 1))

    def exported(self, rel: str, name: str) -> None:
        """A file of `edcconf export files --env production` as the system would export it, under name."""
        out = self.workdir.parent / "exported"
        if not out.exists():
            code, printed = self.run(["export", "files", "--env", "production", "-o", str(out)], {})
            assert code == 0, printed
        shutil.copy(out / rel, self.workdir / name)

    def run(self, args: list[str], env: dict[str, str], terminal: str | None = None) -> tuple[int, str]:
        if self.in_process and terminal is None:
            return _in_process(args, self.workdir, {**self.env, **env})
        if terminal is not None:
            return _on_terminal([*self.edcconf, *args], self.workdir, {**self.env, **env}, terminal)
        proc = subprocess.run(
            [*self.edcconf, *args],
            check=False,
            cwd=self.workdir,
            env={**self.env, **env},
            text=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
        return proc.returncode, proc.stdout + proc.stderr

    def start_emulator(self, args: list[str]) -> tuple[int, str]:
        """The README's emulator command in the background, on a free port instead of 8765."""
        args = ["0" if a == "8765" else a for a in args]
        self.emulator = subprocess.Popen(
            [self.python, *args],
            cwd=self.workdir,
            env=self.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.emulator.stdout is not None
        printed = []
        for line in self.emulator.stdout:
            printed.append(line)
            if found := re.search(r"serving at (\S+)", line):
                self.url = found.group(1)  # shown as the README's port, which it stands in for
                return 0, re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:8765", "".join(printed))
        return self.emulator.wait(), "".join(printed)

    def close(self) -> None:
        if self.emulator is not None:
            self.emulator.terminate()
            self.emulator.wait(timeout=30)


def _python_of(edcconf: list[str]) -> str:
    """The Python that runs edcconf (for the emulator's `python -m`): the prefix's own, or its venv's."""
    if len(edcconf) >= 3 and edcconf[1:3] == ["-m", "edcconf"]:
        return edcconf[0]
    sibling = Path(edcconf[0]).with_name("python")
    return str(sibling) if sibling.exists() else sys.executable


def _in_process(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """The CLI's entry point in this process, from the tour's directory with its environment variables."""
    from edcconf.cli import main

    out, err = io.StringIO(), io.StringIO()  # as a subprocess's: standard output, then standard error
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return code, out.getvalue() + err.getvalue()


def _on_terminal(argv: list[str], cwd: Path, env: dict[str, str], answer: str) -> tuple[int, str]:
    """A command that asks on a terminal: standard input is a pseudo-terminal with the answer typed in."""
    import pty

    leader, follower = pty.openpty()
    try:
        os.write(leader, answer.encode())
        proc = subprocess.run(
            argv, check=False, cwd=cwd, env=env, text=True, capture_output=True, stdin=follower, timeout=300
        )
    finally:
        os.close(follower)
        os.close(leader)
    return proc.returncode, proc.stdout + proc.stderr


def _redcap_edits(tour: Tour) -> None:
    tour.edit(
        "environments/test.yaml",
        "redcap: {provider: csv, out: build/test/redcap}",
        f"redcap: {{provider: redcap, url: {tour.url}}}",
    )


def _hand_edit_in_redcap(tour: Tour) -> None:
    """What the README's reader does by hand: rights and an expiry changed in REDCap's User Rights page."""
    from redcap import Project

    project = Project(tour.url, tour.env["REDCAP_TOKEN_DIAB03"])
    user = next(u for u in project.export_users() if u["username"] == "priya.nair")
    project.import_users(
        [
            {
                "username": "priya.nair",
                "design": 1,
                "expiration": "2030-01-31",
                "data_access_group": user["data_access_group"],
            }
        ]
    )


def _published(*names: str) -> Callable[[Tour], None]:
    def copy(tour: Tour) -> None:
        for name in names:
            shutil.copy(PUBLISHED / name, tour.workdir / name)

    return copy


def _acg_files(tour: Tour) -> None:
    _published("acg-definitions.csv", "acg-assignments.csv")(tour)
    tour.exported("DIAB-03/redcap-users.csv", "redcap-users.csv")  # REDCap's user export, for e-mails


# Keyed by the README line after `$ ` (comment included, spaces collapsed): what is not exit 0 or needs more.
SETUP: dict[str, Setup] = {
    "edcconf plan --env test": Setup(code=2, why="changes to plan: exit 2"),
    "edcconf apply --env test # shows the plan, asks; --yes in CI": Setup(
        terminal="yes\n", why="asks on a terminal: the test types yes on a pseudo-terminal"
    ),
    "edcconf plan --env production --out prod.plan # the reviewed plan, saved": Setup(code=2, why="changes: exit 2"),
    "edcconf drift --env test --json # each difference: study, user, right, expected, live; exit 2": Setup(
        code=2, why="drift found: exit 2"
    ),
    "edcconf plan --env test # warns of the drift and plans to restore it (--no-refresh skips)": Setup(
        code=2, why="a change restores the drift: exit 2"
    ),
    "REDCAP_TOKEN_DIAB03= edcconf drift --env test # exit 1: DIAB-03 could not be read": Setup(
        code=1, why="a study that should be read live was not: exit 1"
    ),
    "edcconf import sag sag-definitions.csv sag-assignments.csv # groups (ceilings) and their members": Setup(
        before=_published("sag-definitions.csv", "sag-assignments.csv"),
        why="REDCap's SAG module export: tests/fixtures/published",
    ),
    "edcconf import acg acg-definitions.csv acg-assignments.csv --users redcap-users.csv # e-mails from the user "
    "export": Setup(
        before=_acg_files,
        why="REDCap's ACG files: tests/fixtures/published; its user export: DIAB-03's "
        "from `edcconf export files --env production`",
    ),
    "edcconf import vault users.csv --study ONC-04 --group study-staff # people and access entries": Setup(
        before=lambda tour: tour.exported("ONC-04/vault-users.csv", "users.csv"),
        why="Vault's user export of ONC-04: as `edcconf export files --env production` writes it",
    ),
    "edcconf plan --env production # no changes to ONC-04: the declarations say what the file says": Setup(
        code=2,
        check=lambda printed: "# Study ONC-04" not in printed and "ONC-04/" not in printed,
        why="the other studies still have changes in production: exit 2; none of ONC-04",
    ),
    ".venv/bin/python -m edcconf.emulator.redcap --port 8765 --project "
    "12:0123456789ABCDEF0123456789ABCDEF:demographics,hba1c,medications,adverse_events &": Setup(
        why="runs in the background on a free port (8765 may be taken); the test.yaml edit gets its URL"
    ),
}

# Keyed by the prose step's text: what the test does for it (or a string: why it is not done).
PROSE: dict[str, Callable[[Tour], None] | str] = {
    "a group's ceiling is lowered: trained-monitors' form_access review → read in groups/monitors.yaml": lambda tour: (
        tour.edit("groups/monitors.yaml", "form_access: review", "form_access: read")
    ),
    "edit environments/test.yaml: targets.redcap: {provider: redcap, url: http://127.0.0.1:8765/api/}": _redcap_edits,
    "edit studies/diab-03.yaml: add redcap: {project_id: 12, token_env: REDCAP_TOKEN_DIAB03} under study:": lambda tour: (
        tour.edit(
            "studies/diab-03.yaml",
            "  system: redcap\n",
            "  system: redcap\n  redcap: {project_id: 12, token_env: REDCAP_TOKEN_DIAB03}\n",
        )
    ),
    "someone changes a user's rights by hand in REDCap": _hand_edit_in_redcap,
}


def copy_example(workdir: Path, source: Path = REPO) -> Path:
    for rel in EXAMPLE:
        shutil.copytree(source / rel, workdir / rel)
    return workdir


def run_tour(
    edcconf: list[str],
    workdir: Path,
    env: dict[str, str] | None = None,
    in_process: bool = False,
    readme: Path = REPO / "README.md",
) -> list[str]:
    """Runs the tour in workdir (a fresh copy of the example organisation is made there) with `edcconf`
    as the command (e.g. [python, "-m", "edcconf"] or [".../bin/edcconf"]); in_process runs edcconf's entry
    point in this process instead, except where a terminal is needed. Returns the failures, each naming
    its README line; stops at the first command that fails, since later ones depend on it."""
    tour_steps = steps(readme.read_text())
    failures = [f"SETUP names no README command: {key}" for key in SETUP if key not in {s.key for s in tour_steps}]
    failures += [
        f"PROSE names no README step: {key}" for key in PROSE if key not in {s.key for s in tour_steps if s.prose}
    ]
    copy_example(workdir)
    tour = Tour(edcconf, workdir, env, in_process)
    try:
        for step in tour_steps:
            where = f"README.md:{step.line}: {step.text.strip()}"
            if step.prose:
                action = PROSE.get(step.key)
                if action is None:
                    failures.append(f"{where}: a prose step the test neither performs nor skips (add it to PROSE)")
                elif not isinstance(action, str):
                    action(tour)
                continue
            failure, fatal = _run_step(tour, step, SETUP.get(step.key, Setup()))
            if failure:
                failures.append(f"{where}: {failure}")
            if fatal:
                break  # a command that did not do its part: what follows depends on it
    finally:
        tour.close()
    return failures


def _run_step(tour: Tour, step: Step, setup: Setup) -> tuple[str, bool]:
    """(what failed or "", whether the tour cannot go on)."""
    if setup.before:
        setup.before(tour)
    words = list(_words(step.text))
    if words[-1] == "&":  # the one background command: the emulator
        code, printed = tour.start_emulator(words[words.index("-m") : -1])
    else:
        code, printed = 0, ""
        for part in _split(words, "&&"):
            code, out = _command(tour, part, setup.terminal)
            printed += out
            if code != 0:
                break
    said = re.search(r"\bexit (\d)", step.text.partition("#")[2])
    if said and int(said.group(1)) != setup.code:
        return f"the README says exit {said.group(1)}, SETUP expects {setup.code}", False
    if code != setup.code:
        return f"exit {code}, expected {setup.code}\n{printed}", True
    if setup.check and not setup.check(printed):
        return f"printed output is not what the README says ({setup.why}):\n{printed}", False
    if step.shown and not matches(step.shown, printed.splitlines()):
        return "printed output differs from what the README shows:\n" + "\n".join(
            ["--- README", *step.shown, "--- printed", *printed.splitlines()]
        ), False
    return "", False


def _command(tour: Tour, words: list[str], terminal: str | None) -> tuple[int, str]:
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):  # VAR=value before a command
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words[0] == "export":
        for assignment in words[1:]:
            name, _, value = assignment.partition("=")
            tour.env[name] = value
        return 0, ""
    assert words[0] == "edcconf", f"the tour runs only edcconf commands, not {words[0]}"
    return tour.run(words[1:], env, terminal)


def _words(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _split(words: list[str], sep: str) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for word in words:
        if word == sep:
            parts.append([])
        else:
            parts[-1].append(word)
    return parts
