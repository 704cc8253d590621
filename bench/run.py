#!/usr/bin/env python3
"""Benchmark edcconf on a generated organisation: prints each figure with the machine it ran on.

    python bench/run.py --studies 2000 [--json] [--rounds K] [--systems openclinica,redcap,vault] [--keep DIR]

In one run, at N and at N/4: the parse floor (PyYAML's C loader over every file, in this process; and
rapidyaml's, the fast reader's floor, when it is installed),
then the real `edcconf` CLI as child processes, as a reviewer meets it: validate; apply of everything
(local state); then plans against that state: cold (file cache deleted), warm (nothing changed since),
and after one grant changed in one study file; the peak resident memory of the largest of those
children; finally the ratio of cold-plan times between the two sizes.

With --rounds K, all of it K times over (a freshly generated organisation each round, N/4 then N): each
time and memory figure is then its least value over the rounds, and each ratio is made of those (noise on a
shared machine only ever adds time, so the least of several runs is the closest to what the code costs);
`rounds` keeps every round's own figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate
from measured import run_measured

EDCCONF = [sys.executable, "-m", "edcconf"]
FOLDERS = ("environments", "studies", "groups", "policies", "reviews")  # every folder generate.py writes YAML to
# The targets at N = 2,000 (issue #21; the earlier ones were cold ≤ 2 × floor, warm ≤ 1 s, one change ≤ 2 s,
# peak ≤ 1,000 MB, scaling ≤ 4.4). Ratios are to the cold plan unless they say otherwise.
TARGETS = {
    "cold_vs_floor": 0.5,
    "validate_vs_cold": 1.0,
    "apply_vs_cold": 1.5,
    "second_apply_vs_cold": 1.0,
    "warm_plan_s": 0.5,
    "one_change_plan_s": 1.0,
    "peak_rss_mb": 750.0,
    "scaling_ratio": 4.2,
}


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(
            next(
                line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
            ).split()[1]
        )
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "yaml_c_loader": hasattr(yaml, "CSafeLoader"),
        "platform": platform.platform(),
    }


def compile_package() -> bool:
    """The package's bytecode, as an installed tool has it (pip compiles it at install; a checkout gets it
    on its first run). Where PYTHONDONTWRITEBYTECODE is set, every child would otherwise compile about 170
    modules from source: a tenth to a fifth of a second of each command's start-up, which a user does not
    wait for. Returns whether it succeeded (recorded with the figures)."""
    import compileall

    import edcconf

    return bool(compileall.compile_dir(Path(edcconf.__file__).parent, quiet=1))


def timed_child(args: list[str], cwd: Path, ok: tuple[int, ...] = (0, 2)) -> tuple[float, float, float]:
    """Run the CLI as a child: its wall time, its peak RSS (MiB) and the CPU time (user + system) of it
    and its own children (the parse workers), from wait4 in bench/measured.py (a small parent: see there).
    The largest process counts for RSS, not the sum."""
    got, err = run_measured([*EDCCONF, "--config", str(cwd), *args])
    if got["code"] not in ok:
        raise SystemExit(f"edcconf {' '.join(args)} exited {got['code']}: {err[-2000:]}")
    return got["seconds"], got["peak_rss_mb"], got["cpu_s"]


def parse_floor(root: Path) -> float:
    files = sorted(p for d in FOLDERS for p in (root / d).rglob("*.yaml"))
    start = time.perf_counter()
    for p in files:
        yaml.load(p.read_bytes(), Loader=yaml.CSafeLoader)
    return time.perf_counter() - start


def fast_parse_floor(root: Path) -> float | None:
    """The same files through rapidyaml alone (no values, no positions): what edcconf's fast reader
    (source/fast_yaml.py) starts from. None when rapidyaml is not installed."""
    try:
        import ryml
    except ImportError:
        return None
    files = sorted(p for d in FOLDERS for p in (root / d).rglob("*.yaml"))
    start = time.perf_counter()
    for p in files:
        ryml.parse_in_arena(p.read_bytes())
    return time.perf_counter() - start


def change_one_grant(root: Path) -> None:
    study = sorted((root / "studies").glob("*.yaml"))[len(list((root / "studies").glob("*.yaml"))) // 2]
    text = study.read_text()
    marker = "environments: all, sites: all}"
    i = text.rfind(marker)
    study.write_text(text[:i] + "environments: [production], sites: all}" + text[i + len(marker) :])  # leaves test


def measure(n: int, systems: list[str], workdir: Path, governance: bool = False) -> dict:
    """As a reviewer meets it: the organisation is applied, then a pull request is planned.

    apply_s is the first apply of everything (a plan included); cold_plan_s plans against that state with
    the file cache deleted, warm_plan_s with nothing changed since, one_change_plan_s after one grant
    changed in one study file (each plan compares all of the organisation with the applied state), and
    second_apply_s applies that one change (reading and writing the whole state)."""
    root = workdir / f"org-{n}"
    stats = generate(root, n, seed=7, systems=systems, governance=governance)
    figures: dict = {"studies": n, "people": stats["people"], "grants": stats["grants"]}
    figures["parse_floor_s"] = parse_floor(root)
    figures["fast_parse_floor_s"] = fast_parse_floor(root)
    rss: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def step(name: str, args: list[str], ok: tuple[int, ...] = (0, 2)) -> None:
        elapsed, peak, used = timed_child(args, root, ok)
        figures[name] = elapsed
        rss[name.removesuffix("_s")] = round(peak, 1)
        cpu[name.removesuffix("_s")] = round(used, 2)

    step("validate_s", ["validate"], ok=(0,))
    step("apply_s", ["apply", "--env", "test", "--yes"], ok=(0,))
    shutil.rmtree(root / ".edcconf" / "cache", ignore_errors=True)
    step("cold_plan_s", ["plan", "--env", "test"], ok=(0,))
    step("warm_plan_s", ["plan", "--env", "test"], ok=(0,))
    change_one_grant(root)
    step("one_change_plan_s", ["plan", "--env", "test"], ok=(2,))
    step("second_apply_s", ["apply", "--env", "test", "--yes"], ok=(0,))
    figures["peak_rss_mb"] = max(rss.values())
    figures["peak_rss_mb_by_step"] = rss
    figures["cpu_s_by_step"] = cpu  # beside the wall times: what the parse workers add up to
    return with_ratios(figures)


def with_ratios(figures: dict) -> dict:
    """figures with the ratios the targets name: the cold plan to the parse floor, the others to the cold plan."""
    cold = figures["cold_plan_s"]
    figures["cold_vs_floor"] = cold / figures["parse_floor_s"]
    figures["validate_vs_cold"] = figures["validate_s"] / cold
    figures["apply_vs_cold"] = figures["apply_s"] / cold
    figures["second_apply_vs_cold"] = figures["second_apply_s"] / cold
    return figures


TIMES = (
    "parse_floor_s",
    "fast_parse_floor_s",
    "validate_s",
    "apply_s",
    "cold_plan_s",
    "warm_plan_s",
    "one_change_plan_s",
    "second_apply_s",
)


def least(rounds: list[dict]) -> dict:
    """One round's figures, or of several: each time, peak and CPU figure its least value over the rounds,
    each ratio made again of those."""
    if len(rounds) == 1:
        return rounds[0]
    out = dict(rounds[0])
    for key in TIMES + ("peak_rss_mb",):
        values = [r[key] for r in rounds if r[key] is not None]
        out[key] = min(values) if values else None
    for key in ("peak_rss_mb_by_step", "cpu_s_by_step"):
        out[key] = {step: min(r[key][step] for r in rounds) for step in rounds[0][key]}
    return with_ratios(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, required=True)
    parser.add_argument("--systems", default="openclinica,redcap,vault")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure K times over and keep each figure's least value (default 1)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="generate into this directory and keep it")
    parser.add_argument(
        "--governance",
        action="store_true",
        help="with qualifications on every person, five policies and an access review campaign (generate.py)",
    )
    args = parser.parse_args()
    systems = args.systems.split(",")
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="edcconf-bench-"))
    compiled = compile_package()
    rounds: list[tuple[dict, dict]] = []
    try:
        for _ in range(max(args.rounds, 1)):  # generate() starts each organisation afresh
            at_quarter = measure(max(args.studies // 4, 1), systems, workdir, args.governance)
            at_full = measure(args.studies, systems, workdir, args.governance)
            at_full["scaling_ratio"] = at_full["cold_plan_s"] / at_quarter["cold_plan_s"]
            rounds.append((at_quarter, at_full))
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    small, large = least([r[0] for r in rounds]), least([r[1] for r in rounds])
    large["scaling_ratio"] = large["cold_plan_s"] / small["cold_plan_s"]
    verdict = {k: (large[k] <= limit) for k, limit in TARGETS.items()}
    report = {
        "machine": machine(),
        "bytecode_compiled": compiled,
        "systems": systems,
        "governance": args.governance,
        "at_n": large,
        "at_n_over_4": small,
        "targets": TARGETS,
        "meets_targets": verdict,
    }
    if len(rounds) > 1:
        report["rounds"] = [{"at_n": at_full, "at_n_over_4": at_quarter} for at_quarter, at_full in rounds]
    if args.json:
        print(json.dumps(report, indent=2))
        return
    m = report["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, Python {m['python']}, "
        f"C loader {'yes' if m['yaml_c_loader'] else 'no'}"
    )
    for label, fig in (("N/4", small), ("N", large)):
        print(f"{label:>4} = {fig['studies']} studies, {fig['people']} people, {fig['grants']} grants:")
        for key in (
            "parse_floor_s",
            "validate_s",
            "cold_plan_s",
            "warm_plan_s",
            "one_change_plan_s",
            "apply_s",
            "second_apply_s",
            "peak_rss_mb",
            "cold_vs_floor",
            "validate_vs_cold",
            "apply_vs_cold",
            "second_apply_vs_cold",
        ):
            print(f"       {key:<22} {fig[key]:10.2f}")
            if key == "parse_floor_s" and fig["fast_parse_floor_s"] is not None:
                print(f"       {'fast_parse_floor_s':<22} {fig['fast_parse_floor_s']:10.2f}")
    print(f"scaling (cold plan, N vs N/4): {large['scaling_ratio']:.2f}")
    for key, ok in verdict.items():
        print(f"target {key:<22} ≤ {TARGETS[key]:<7} {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
