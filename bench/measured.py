#!/usr/bin/env python3
"""Run a command and print, as JSON, its wall time, its peak resident memory and its CPU time.

    python bench/measured.py COMMAND [ARGS...]

The benchmark runs each command through this small process instead of starting it itself: Linux counts
in a child's peak RSS the memory of the process it was forked from (the benchmark, which has parsed the
whole organisation for the parse floor), so a warm plan measured from the benchmark showed the
benchmark's own size. Here the command's parent is small. Its standard error passes through; its standard
output is discarded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run_measured(command: list[str], env: dict[str, str] | None = None) -> tuple[dict, str]:
    """(code, seconds, peak_rss_mb, cpu_s) of command run through this script, and its standard error."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *command], capture_output=True, env=env, check=False
    )
    err = proc.stderr.decode(errors="replace")
    try:
        return json.loads(proc.stdout), err
    except ValueError:
        raise SystemExit(f"bench/measured.py failed for {' '.join(command)}: {err[-2000:]}") from None


def main() -> None:
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "code": os.waitstatus_to_exitcode(status),
                "seconds": elapsed,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "cpu_s": usage.ru_utime + usage.ru_stime,
            }
        )
    )


if __name__ == "__main__":
    main()
