#!/usr/bin/env python3
"""Benchmark `edcconf report` on a generated organisation and the time Chromium takes to open its pages.

    python bench/report.py --studies 2000 [--json] [--env production] [--keep DIR] [--loads 3]

Generates the organisation (bench/generate.py), runs the real CLI as a child process (`report --env E`,
wall time and peak RSS from wait4 in bench/measured.py), then measures the pages: the overview's size, the largest study
page's size, and the time headless Chromium (Debian's) takes to load the overview and the largest study
page: the page's own clock at its load event (performance.now(), written into the DOM by a probe script
added to a copy of the page beside it) and the wall time of the headless run, the median of --loads runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate
from measured import run_measured
from run import machine

EDCCONF = [sys.executable, "-m", "edcconf"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROBE = (
    '<script>window.addEventListener("load", function () { document.documentElement.setAttribute('
    '"data-load-ms", performance.now().toFixed(0)); });</script>'
)
TARGETS = {"overview_load_s": 3.0}


def run_report(org: Path, env: str, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `edcconf report` as a child process."""
    got, err = run_measured(
        [*EDCCONF, "--config", str(org), "report", "--env", env, "-o", str(out)], env={**os.environ, "CI": "true"}
    )
    if got["code"] != 0:
        sys.exit(f"edcconf report failed:\n{err[-2000:]}")
    return got["seconds"], got["peak_rss_mb"]


def load_time(page: Path, chromium: str, loads: int) -> dict:
    """Median of `loads` headless loads: the page's load event (ms, its own clock) and the wall time (s)."""
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>", 1), encoding="utf-8")
    event, wall = [], []
    try:
        for _ in range(loads):
            with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
                start = time.perf_counter()
                proc = subprocess.run(
                    [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", probe.resolve().as_uri()],
                    check=False,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                wall.append(time.perf_counter() - start)
            found = re.search(r'data-load-ms="(\d+)"', proc.stdout)
            if proc.returncode != 0 or not found:
                sys.exit(f"chromium could not load {page}: {proc.stderr[-1000:]}")
            event.append(int(found.group(1)) / 1000)
    finally:
        probe.unlink()
    return {"load_event_s": round(statistics.median(event), 2), "headless_wall_s": round(statistics.median(wall), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", type=int, default=200)
    ap.add_argument("--env", default="production")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--loads", type=int, default=3, help="headless loads per page (the median is reported)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the organisation and report in this directory")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium is not installed (apt-get install chromium)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="edcconf-bench-report-"))
    try:
        org, out = work / "org", work / "report"
        generate(org, args.studies, args.seed, ["openclinica", "redcap", "vault"])
        shutil.rmtree(out, ignore_errors=True)
        wall, rss = run_report(org, args.env, out)
        index = out / args.env / "index.html"
        pages = sorted((out / args.env / "studies").glob("*.html"), key=lambda p: p.stat().st_size)
        figures = {
            "studies": args.studies,
            "report_s": round(wall, 2),
            "report_peak_rss_mb": round(rss),
            "overview_bytes": index.stat().st_size,
            "largest_study_page_bytes": pages[-1].stat().st_size,
            "study_pages": len(pages),
            "study_pages_bytes": sum(p.stat().st_size for p in pages),
            "json_bytes": (out / f"{args.env}.json").stat().st_size,
            "overview_load": load_time(index, chromium, args.loads),
            "largest_study_page_load": load_time(pages[-1], chromium, args.loads),
            "targets": TARGETS,
            "machine": machine(),
        }
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
