"""The command line of the REDCap API *emulator* (not REDCap): ``python -m edcconf.emulator.redcap``
serves the projects it is given, with the server options of :mod:`edcconf.emulator.server_sim`."""

from __future__ import annotations

import argparse
import threading


def parse_project_spec(spec: str) -> dict:
    """``12:TOKEN:form1,form2:dag1=Label1,dag2=Label2`` (TOKEN may be empty)."""
    parts = spec.split(":")
    if len(parts) < 1 or not parts[0].isdigit() or len(parts) > 4:
        raise argparse.ArgumentTypeError(f"bad --project {spec!r}: expected ID:TOKEN:form1,form2:dag1=Label1,...")
    parts += [""] * (4 - len(parts))
    dags = []
    for item in filter(None, parts[3].split(",")):
        name, _, label = item.partition("=")
        dags.append((name, label or name))
    return {
        "project_id": int(parts[0]),
        "token": parts[1] or None,
        "forms": [f for f in parts[2].split(",") if f],
        "dags": dags,
    }


def main(argv: list[str] | None = None) -> int:
    from .redcap import ACTIONS, RedcapEmulator  # here: redcap.py imports this module at its end

    parser = argparse.ArgumentParser(
        prog="python -m edcconf.emulator.redcap",
        description="REDCap API emulator (not REDCap) on 127.0.0.1, for tests and demos.",
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--version",
        dest="redcap_version",
        default="14.5.0",
        help="REDCap version to report and emulate (default 14.5.0)",
    )
    parser.add_argument(
        "--project",
        action="append",
        type=parse_project_spec,
        default=[],
        metavar="ID:TOKEN:FORMS:DAGS",
        help="e.g. 12:TOKEN:demographics,hba1c:mgh=MGH,ucsf=UCSF (repeatable)",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0, help="answer each request this long after it arrived (default 0)"
    )
    parser.add_argument("--jitter-ms", type=float, default=0, help="plus or minus a uniform draw up to this")
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        metavar="N",
        help="answer HTTP 429 with Retry-After to a request arriving while N are in flight",
    )
    parser.add_argument(
        "--retry-after", type=int, default=1, metavar="SECONDS", help="the Retry-After of 429 answers (default 1)"
    )
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=None,
        metavar="RATE",
        help="fail exactly this share (0-1] of the requests, evenly spread",
    )
    parser.add_argument("--fail-status", type=int, default=500, help="the status of those failures (default 500)")
    parser.add_argument(
        "--fail-action",
        choices=sorted(ACTIONS),
        default=None,
        help="fail only requests with this action (default: any)",
    )
    args = parser.parse_args(argv)
    if args.max_concurrent is not None and args.max_concurrent < 1:
        parser.error("--max-concurrent must be at least 1")
    if args.fail_rate is not None and not 0 < args.fail_rate <= 1:
        parser.error("--fail-rate must be above 0 and at most 1")
    if args.latency_ms < 0 or args.jitter_ms < 0:
        parser.error("--latency-ms and --jitter-ms must be 0 or more")
    emu = RedcapEmulator(
        version=args.redcap_version,
        port=args.port,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        max_concurrent=args.max_concurrent,
        retry_after=args.retry_after,
    )
    if args.fail_rate:
        emu.fail_rate(args.fail_rate, status=args.fail_status, action=args.fail_action)
    for spec in args.project:
        token = emu.add_project(title=f"Project {spec['project_id']}", **spec)
        print(f"project {spec['project_id']}: token {token}", flush=True)
    url = emu.start()
    print(f"REDCap API emulator (REDCap {args.redcap_version}) serving at {url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0
