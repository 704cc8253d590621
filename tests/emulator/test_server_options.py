"""The emulator as a real server under load: latency and jitter from each request's arrival, requests
served concurrently, a concurrency cap answered with 429 and Retry-After, and injected failures exactly
as asked (fail_next by action, content or project; fail_rate as an exact evenly spread share)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from edcconf.emulator.redcap import RedcapEmulator

TOKEN = "0123456789ABCDEF0123456789ABCDEF"
OTHER = "FEDCBA9876543210FEDCBA9876543210"


def post(url, token=TOKEN, **fields):
    return requests.post(url, data={"token": token, **fields}, timeout=10)


def timed(url, **fields):
    start = time.monotonic()
    r = post(url, **fields)
    return time.monotonic() - start, r


def emulator(**options) -> RedcapEmulator:
    emu = RedcapEmulator(version="15.6.1", **options)
    emu.add_project(project_id=12, title="Registry", forms=["demographics"], dags=[("mgh", "MGH")], token=TOKEN)
    emu.add_project(project_id=13, title="Trial", forms=["demographics"], token=OTHER)
    return emu


def in_parallel(n, fn):
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, range(n)))


# -- latency, jitter, concurrency ------------------------------------------------------------------
def test_eight_parallel_requests_take_about_one_latency_not_eight():
    # a latency long enough that all eight are in flight together even when a loaded machine starts the
    # client threads late (at 200 ms, a loaded run of `make test` saw 5 in flight at most)
    with emulator(latency_ms=1000) as emu:
        start = time.monotonic()
        results = in_parallel(8, lambda i: timed(emu.url, content="version"))
        total = time.monotonic() - start
    assert [r.text for _, r in results] == ["15.6.1"] * 8
    assert all(elapsed >= 1.0 for elapsed, _ in results)  # each waited the latency
    assert total < 4.0, total  # served together: 8 × 1 s would be 8 s
    assert emu.counts["peak_in_flight"] == 8 and emu.counts["received"] == 8


def test_latency_is_measured_from_arrival_and_jitter_spreads_it():
    with emulator(latency_ms=100, jitter_ms=80) as emu:
        times = [timed(emu.url, content="version")[0] for _ in range(12)]
    assert all(0.02 <= t < 0.5 for t in times), times
    assert min(times) < 0.09 and max(times) > 0.12, times  # spread within 100 ± 80 ms, not all 100 ms


def test_no_latency_by_default():
    with emulator() as emu:
        assert timed(emu.url, content="version")[0] < 0.1


def test_options_are_checked():
    for bad in ({"latency_ms": -1}, {"jitter_ms": -1}, {"max_concurrent": 0}, {"retry_after": -1}):
        with pytest.raises(ValueError):
            RedcapEmulator(**bad)
    with pytest.raises(ValueError):
        RedcapEmulator().fail_rate(1.5)


# -- the concurrency cap -----------------------------------------------------------------------------
def test_requests_above_the_cap_get_429_with_retry_after_and_are_not_carried_out():
    with emulator(latency_ms=400, max_concurrent=2, retry_after=3) as emu:

        def add(i):
            return post(emu.url, content="user", format="json", data=json.dumps([{"username": f"user{i}"}]))

        answers = in_parallel(6, add)
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200, 200, 429, 429, 429, 429], statuses
        refused = [r for r in answers if r.status_code == 429]
        assert all(r.headers["Retry-After"] == "3" and r.text == "Too Many Requests" for r in refused)
        assert "Retry-After" not in next(r for r in answers if r.status_code == 200).headers
        assert len(emu.project(12).users) == 2  # only the admitted imports happened
        assert len(emu.requests) == 2  # refused requests never reach the API
        counts = emu.counts
        assert {k: counts[k] for k in ("received", "rejected", "failed", "lost", "peak_in_flight")} == {
            "received": 6,
            "rejected": 4,
            "failed": 0,
            "lost": 0,
            "peak_in_flight": 2,
        }
        assert post(emu.url, content="version").status_code == 200  # the cap frees as answers go out
        emu.reset_counts()
        assert emu.counts["received"] == 0 and emu.counts["rejected"] == 0


def test_requests_within_the_cap_are_all_served():
    with emulator(latency_ms=100, max_concurrent=4) as emu:
        assert [r.status_code for _, r in in_parallel(4, lambda i: timed(emu.url, content="version"))] == [200] * 4
        assert emu.counts["rejected"] == 0


# -- failure injection ---------------------------------------------------------------------------------
def test_fail_next_by_action_fails_exactly_the_next_n_matching_requests():
    with emulator() as emu:
        emu.fail_next(2, status=500, body="Internal Server Error", action="import")

        def user(name):
            return post(emu.url, content="user", format="json", data=json.dumps([{"username": name}]))

        seen = [
            post(emu.url, content="user", format="json").status_code,  # an export: not matched
            user("amy").status_code,
            post(emu.url, content="dag", format="json").status_code,
            user("bob").status_code,
            user("cai").status_code,
            user("dan").status_code,
        ]
        assert seen == [200, 500, 200, 500, 200, 200]
        assert sorted(emu.project(12).users) == ["cai", "dan"]  # the failed imports were not carried out
        assert emu.counts["failed"] == 2


def test_fail_next_by_project_and_content():
    with emulator() as emu:
        emu.fail_next(1, status=503, project=13)
        emu.fail_next(1, status=502, content="dag")
        assert post(emu.url, content="version").status_code == 200
        assert post(emu.url, token=OTHER, content="version").status_code == 503
        assert post(emu.url, token=OTHER, content="version").status_code == 200
        assert post(emu.url, content="user", format="json").status_code == 200
        assert post(emu.url, token=OTHER, content="dag", format="json").status_code == 502
        assert post(emu.url, content="dag", format="json").status_code == 200


def test_an_injected_429_carries_retry_after():
    with emulator(retry_after=2) as emu:
        emu.fail_next(1, status=429, body="Too Many Requests")
        r = post(emu.url, content="version")
        assert (r.status_code, r.headers.get("Retry-After")) == (429, "2")
        assert "Retry-After" not in post(emu.url, content="version").headers


def test_fail_rate_fails_an_exact_evenly_spread_share_until_cleared():
    with emulator() as emu:
        emu.fail_rate(0.25, status=500, content="user")
        codes = []
        for _ in range(8):
            codes.append(post(emu.url, content="user", format="json").status_code)
            assert post(emu.url, content="version").status_code == 200  # not matched, not counted
        assert codes == [200, 200, 200, 500, 200, 200, 200, 500]
        emu.fail_rate(1.0, status=503, project=13)
        assert [post(emu.url, token=OTHER, content="version").status_code for _ in range(3)] == [503] * 3
        emu.clear_failures()
        assert post(emu.url, token=OTHER, content="user", format="json").status_code == 200
        assert emu.counts["failed"] == 5


def test_latency_applies_to_injected_failures_and_lost_answers_are_counted():
    with emulator(latency_ms=150) as emu:
        emu.fail_next(1, status=500)
        elapsed, r = timed(emu.url, content="version")
        assert r.status_code == 500 and elapsed >= 0.15
        emu.lose_next(1)
        with pytest.raises(requests.exceptions.ConnectionError):
            post(emu.url, content="version")
        assert emu.counts["lost"] == 1


# -- command line ----------------------------------------------------------------------------------------
def test_command_line_options():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edcconf.emulator.redcap",
            "--port",
            "0",
            "--latency-ms",
            "200",
            "--max-concurrent",
            "1",
            "--retry-after",
            "5",
            "--fail-rate",
            "0.5",
            "--fail-status",
            "502",
            "--project",
            f"12:{TOKEN}:demographics",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == f"project 12: token {TOKEN}"
        url = re.search(r"http://127\.0\.0\.1:\d+/api/$", proc.stdout.readline().strip()).group(0)
        elapsed, first = timed(url, content="version")
        assert first.status_code == 200 and elapsed >= 0.2
        assert post(url, content="version").status_code == 502  # every second request fails
        both = in_parallel(2, lambda i: post(url, content="version"))
        assert sorted(r.status_code for r in both) == [200, 429]  # the refused one is not counted
        assert next(r for r in both if r.status_code == 429).headers["Retry-After"] == "5"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_the_redcap_providers_session_waits_retry_after_and_retries_a_429():
    """What edcconf's `redcap` provider meets: its sessions send a 429 again after waiting its Retry-After."""
    from edcconf.providers.redcap import _project_class
    from edcconf.providers.redcap_transport import ThreadSessions

    with emulator(retry_after=1) as emu:
        project = _project_class()(emu.url, TOKEN, ThreadSessions(emu.url, 4, 0.5, 8), timeout=10)
        emu.fail_next(1, status=429, body="Too Many Requests", content="user")
        start = time.monotonic()
        assert project.export_users() == []
        assert time.monotonic() - start >= 1.0
        assert (emu.counts["received"], emu.counts["failed"]) == (2, 1)
