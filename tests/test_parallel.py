"""edcconf.parallel and the REDCap host limiter: results in the items' order whatever order the threads
finish in, the first failure in item order, and a limit of requests in flight that 429s lower."""

from __future__ import annotations

import threading

import pytest

from edcconf.parallel import run_ordered
from edcconf.providers.redcap_transport import GROW_AFTER, HostLimiter, limiter_for


def test_results_come_back_in_the_items_order():
    release = threading.Event()

    def work(item, _stop):
        if item == 0:  # the first item finishes last
            release.wait(10)
        elif item == 5:
            release.set()
        return item * item

    assert run_ordered(list(range(12)), work, "test", workers=4) == [i * i for i in range(12)]


def test_the_first_failure_in_item_order_is_raised_after_the_others_finished():
    done = []

    def work(item, _stop):
        if item in (7, 3):
            raise ValueError(f"item {item}")
        done.append(item)
        return item

    with pytest.raises(ValueError, match="item 3"):
        run_ordered(list(range(10)), work, "test", workers=3)
    assert sorted(done) == [0, 1, 2, 4, 5, 6, 8, 9]


def test_at_most_the_workers_run_at_once():
    lock, running, peak = threading.Lock(), [0], [0]
    gate = threading.Barrier(3, timeout=10)

    def work(item, _stop):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        if item < 3:
            gate.wait()  # the first three meet: three at once is possible
        with lock:
            running[0] -= 1
        return item

    assert run_ordered(list(range(9)), work, "test", workers=3) == list(range(9))
    assert peak[0] == 3


def test_429_lowers_the_hosts_limit_and_good_answers_raise_it_again():
    limiter = HostLimiter(4)
    for _ in range(3):
        limiter.acquire()
        limiter.release(throttled=True)
    assert limiter.limit == 1
    limiter.acquire()
    limiter.release(throttled=True)
    assert limiter.limit == 1  # never below one
    for _ in range(GROW_AFTER):
        limiter.acquire()
        limiter.release(throttled=False)
    assert limiter.limit == 2
    for _ in range(10 * GROW_AFTER):
        limiter.acquire()
        limiter.release(throttled=False)
    assert limiter.limit == 4  # up to the ceiling, not beyond


def test_one_limiter_per_host():
    a = limiter_for("http://127.0.0.1:9/api/", 3)
    assert limiter_for("http://127.0.0.1:9/other/api/", 2) is a and a.ceiling == 3
    assert limiter_for("http://127.0.0.1:10/api/", 3) is not a


@pytest.mark.parametrize("value,code", [("5", 0), ("0.5", 0), ("0", 1), ("fast", 1)])
def test_requests_per_second_on_a_redcap_target(tmp_path, value, code):
    from bench.live import write_repository
    from tests.conftest import run_inprocess

    write_repository(tmp_path, "http://127.0.0.1:9/api/", 1, 2)
    env = tmp_path / "environments/test.yaml"
    env.write_text(env.read_text().replace("provider: redcap,", f"provider: redcap, requests_per_second: {value},"))
    assert run_inprocess(tmp_path, "validate")[0] == code
    if code == 0:
        from edcconf.workflow import environment_of

        assert environment_of(tmp_path, "test").targets["redcap"].requests_per_second == float(value)


def test_a_requests_per_second_cap_spaces_the_starts():
    limiter = HostLimiter(8, per_second=1000)
    for _ in range(3):
        limiter.acquire()
        limiter.release(throttled=False)
    assert limiter.interval == pytest.approx(0.001)
    assert limiter_for("http://127.0.0.1:11/api/", 8, 50).interval == pytest.approx(0.02)
    assert limiter_for("http://127.0.0.1:11/api/", 8, 100).interval == pytest.approx(0.02)  # the strictest
