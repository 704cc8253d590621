#!/usr/bin/env python3
"""Benchmark edcconf's live REDCap work against the REDCap API emulator with a server latency.

    python bench/live.py --projects 200 --users-per-project 50 --latency-ms 100 [--jitter-ms 20]
                         [--parallelism 8] [--max-concurrent N] [--json] [--keep DIR]

Starts the emulator (edcconf.emulator.redcap, in this process, on 127.0.0.1) with N REDCap projects (5
instruments and a data access group per site each, no users yet), writes a configuration repository
whose test environment targets it (`provider: redcap`; each study's token in its own environment
variable, `token_env`) with U people granted per project, then runs the real `edcconf` CLI as child
processes and times each step on the wall clock, in this order:

  first_apply   apply --env test --yes       every grant written (the projects start without users)
  drift         drift --env test             every project read live, no differences
  plan          plan --env test              with its live refresh (the default), no changes
  import        import redcap --env test --dry-run    every project read and turned into declarations
  noop_apply    apply --env test --yes       a plan with refresh, nothing to write

Per step: seconds, the HTTP requests the emulator received (writes among them), and the ideal
= requests × latency ÷ parallelism with the ratio seconds ÷ ideal. `--parallelism P` is passed to a
command only if its `--help` lists `--parallelism` (P = 1 too: the commands' default is 8); otherwise the
step runs with parallelism 1 and says so. The start-up of the CLI (about a second) is in every step's
time: at small sizes the ratio is mostly that, not the network.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from edcconf.emulator.redcap import RedcapEmulator  # noqa: E402

EDCCONF = [sys.executable, "-m", "edcconf"]
FORMS = [f"form_{i:02d}" for i in range(5)]
SITES = [f"S{i:02d}" for i in range(1, 9)]
ROLES = {"data_manager": 2, "data_entry": 12, "monitor": 4, "read_only": 3, "statistician": 1}
STUDY_WIDE = {"data_manager", "statistician"}
TOKEN_VAR = "EDCCONF_BENCH_TOKEN_{}"
REDCAP_VERSION = "15.6.1"
STEPS = [
    ("first_apply", ["apply", "--env", "test", "--yes"]),
    ("drift", ["drift", "--env", "test", "--json"]),
    ("plan", ["plan", "--env", "test", "--json"]),
    ("import", ["import", "redcap", "--env", "test", "--dry-run", "--group", "staff", "--site-country", "US"]),
    ("noop_apply", ["apply", "--env", "test", "--yes"]),
]


def study_id(n: int) -> str:
    return f"RC-{n:04d}"


def project_id(n: int) -> int:
    return 1000 + n


def start_emulator(
    projects: int, latency_ms: float, jitter_ms: float, max_concurrent: int | None
) -> tuple[RedcapEmulator, dict[str, str]]:
    """The emulator with N projects (instruments and a DAG per site, no users); env var -> token."""
    emu = RedcapEmulator(
        version=REDCAP_VERSION, latency_ms=latency_ms, jitter_ms=jitter_ms, max_concurrent=max_concurrent
    )
    tokens = {}
    for n in range(1, projects + 1):
        token = emu.add_project(
            project_id=project_id(n), title=f"Project {n}", forms=FORMS, dags=[(s.lower(), s) for s in SITES]
        )
        tokens[TOKEN_VAR.format(n)] = token
    emu.start()
    return emu, tokens


def write_repository(root: Path, url: str, projects: int, users: int, seed: int = 7) -> int:
    """A configuration repository: the test environment targets the emulator; each project's study grants
    `users` people of a shared pool (each with one site, or all sites for study-wide roles). Returns the
    number of grants."""
    rng = random.Random(seed)
    for d in ("environments", "groups", "studies"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "environments/test.yaml").write_text(
        "environment:\n  name: test\n  safety: {max_revocations: 1000000}\n  targets:\n"
        f'    redcap: {{provider: redcap, url: "{url}"}}\nsites:\n'
        + "".join(f"  - {{id: {s}, name: Site {s}, country: US, timezone: UTC}}\n" for s in SITES)
    )
    pool = [f"u{i:05d}" for i in range(max(2 * users, users + 5))]
    (root / "groups/staff.yaml").write_text(
        "group:\n  id: staff\n  ceiling: {unnamed: unlimited}\n  members:\n"
        + "".join(f"    - {{username: {p}, email: {p}@hospital.example.org, name: Person {p[1:]}}}\n" for p in pool)
    )
    names, weights = list(ROLES), list(ROLES.values())
    grants = 0
    for n in range(1, projects + 1):
        access = []
        for person in rng.sample(pool, users):
            role = rng.choices(names, weights)[0]
            where = "all" if role in STUDY_WIDE else f"[{rng.choice(SITES)}]"
            access.append(f"    - {{user: {person}, role: {role}, environments: all, sites: {where}}}\n")
        grants += len(access)
        (root / f"studies/{study_id(n).lower()}.yaml").write_text(
            f"study:\n  id: {study_id(n)}\n  name: Project {n}\n  system: redcap\n"
            f"  redcap: {{project_id: {project_id(n)}, token_env: {TOKEN_VAR.format(n)}}}\n"
            f"  protocol: {{pi: {pool[0]}}}\n  environments: [test]\n  sites: [{', '.join(SITES)}]\n"
            "  forms:\n" + "".join(f"    - {{id: {f}}}\n" for f in FORMS) + "  access:\n" + "".join(access)
        )
    return grants


def child_env(tokens: dict[str, str]) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **tokens, "PYTHONPATH": path, "EDCCONF_PROGRESS": "0"}


def command_words(args: list[str]) -> tuple[str, ...]:
    return tuple(args[:2] if args[0] == "import" else args[:1])


def with_parallelism(commands: set[tuple[str, ...]], env: dict[str, str]) -> set[tuple[str, ...]]:
    """The commands whose `edcconf <command> --help` lists --parallelism (asked all at once)."""
    procs = {
        words: subprocess.Popen(
            [*EDCCONF, *words, "--help"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        for words in commands
    }
    return {words for words, proc in procs.items() if "--parallelism" in proc.communicate()[0]}


def is_write(fields: dict) -> bool:
    return "data" in fields or fields.get("action") in ("import", "delete")


def run_step(
    args: list[str],
    root: Path,
    env: dict[str, str],
    emu: RedcapEmulator,
    latency_ms: float,
    parallelism: int,
    has_option: bool,
) -> dict:
    """One CLI command, timed; at `parallelism` when it has --parallelism (has_option), else at 1."""
    used = parallelism if has_option else 1
    extra = ["--parallelism", str(used)] if has_option else []
    emu.reset_counts()
    before = len(emu.requests)
    start = time.perf_counter()
    proc = subprocess.run(
        [*EDCCONF, "--config", str(root), *args, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"edcconf {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    counts = emu.counts
    requests = counts["received"]
    ideal = requests * latency_ms / 1000.0 / used
    return {
        "seconds": round(seconds, 3),
        "requests": requests,
        "writes": sum(1 for r in emu.requests[before:] if is_write(r)),
        "rejected_429": counts["rejected"],
        "parallelism": used,
        "ideal_s": round(ideal, 6),
        "ratio": round(seconds / ideal, 2) if ideal > 0 else None,
    }


def measure(
    projects: int,
    users: int,
    latency_ms: float,
    jitter_ms: float,
    parallelism: int,
    max_concurrent: int | None,
    workdir: Path,
) -> dict:
    emu, tokens = start_emulator(projects, latency_ms, jitter_ms, max_concurrent)
    try:
        root = workdir / "org"
        grants = write_repository(root, emu.url, projects, users)
        env = child_env(tokens)
        able = with_parallelism({command_words(a) for _, a in STEPS}, env)
        steps = {
            name: run_step(args, root, env, emu, latency_ms, parallelism, command_words(args) in able)
            for name, args in STEPS
        }
    finally:
        emu.stop()
    return {
        "projects": projects,
        "users_per_project": users,
        "grants": grants,
        "latency_ms": latency_ms,
        "jitter_ms": jitter_ms,
        "parallelism_asked": parallelism,
        "max_concurrent": max_concurrent,
        "redcap_version": REDCAP_VERSION,
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, required=True, help="REDCap projects (one study each)")
    parser.add_argument("--users-per-project", type=int, required=True, help="people granted per project")
    parser.add_argument("--latency-ms", type=float, required=True, help="the emulator's answer latency")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="± a uniform draw up to this")
    parser.add_argument(
        "--parallelism", type=int, default=8, help="passed to each command that has --parallelism (default 8)"
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        help="the emulator's cap on requests in flight (429 above it; default none)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep", type=Path, default=None, help="write the repository here and keep it")
    args = parser.parse_args(argv)
    if args.projects < 1 or args.users_per_project < 1 or args.parallelism < 1:
        parser.error("--projects, --users-per-project and --parallelism must be at least 1")
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="edcconf-live-"))
    try:
        report = measure(
            args.projects,
            args.users_per_project,
            args.latency_ms,
            args.jitter_ms,
            args.parallelism,
            args.max_concurrent,
            workdir,
        )
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    from run import machine  # bench/run.py, beside this file

    report["machine"] = machine()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    m = report["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}")
    print(
        f"{report['projects']} projects × {report['users_per_project']} users ({report['grants']} grants), "
        f"latency {report['latency_ms']:g} ± {report['jitter_ms']:g} ms, parallelism asked "
        f"{report['parallelism_asked']}"
    )
    print(f"{'step':<12} {'seconds':>9} {'requests':>9} {'writes':>7} {'parallel':>8} {'ideal_s':>9} {'ratio':>7}")
    for name, s in report["steps"].items():
        ratio = "-" if s["ratio"] is None else f"{s['ratio']:.2f}"
        print(
            f"{name:<12} {s['seconds']:9.2f} {s['requests']:9d} {s['writes']:7d} {s['parallelism']:8d} "
            f"{s['ideal_s']:9.2f} {ratio:>7}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
