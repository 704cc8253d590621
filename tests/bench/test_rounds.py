"""bench/run.py --rounds K: each figure is its least value over the rounds, each ratio made of those."""

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench_run():
    sys.path.insert(0, str(REPO / "bench"))  # run.py imports its neighbours (generate, measured)
    try:
        spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(REPO / "bench"))


def _round(floor, validate, apply, cold, warm, one, second, peak, cpu_cold):
    return {
        "studies": 8,
        "parse_floor_s": floor,
        "fast_parse_floor_s": None,
        "validate_s": validate,
        "apply_s": apply,
        "cold_plan_s": cold,
        "warm_plan_s": warm,
        "one_change_plan_s": one,
        "second_apply_s": second,
        "peak_rss_mb": peak,
        "peak_rss_mb_by_step": {"apply": peak, "cold_plan": peak - 1},
        "cpu_s_by_step": {"apply": apply * 2, "cold_plan": cpu_cold},
    }


def test_one_round_is_kept_as_it_is(bench_run):
    one = _round(10.0, 9.0, 20.0, 12.0, 0.3, 0.6, 9.5, 600.0, 20.0)
    assert bench_run.least([one]) is one


def test_each_figure_is_its_least_and_the_ratios_are_made_of_those(bench_run):
    slow = _round(12.0, 9.0, 30.0, 13.0, 0.4, 0.9, 9.0, 610.0, 25.0)
    fast = _round(10.0, 11.0, 24.0, 16.0, 0.3, 0.7, 10.0, 600.0, 21.0)
    got = bench_run.least([slow, fast])
    assert (got["parse_floor_s"], got["validate_s"], got["apply_s"], got["cold_plan_s"]) == (10.0, 9.0, 24.0, 13.0)
    assert (got["warm_plan_s"], got["one_change_plan_s"], got["second_apply_s"]) == (0.3, 0.7, 9.0)
    assert got["fast_parse_floor_s"] is None  # not measured (rapidyaml absent) stays so
    assert got["peak_rss_mb"] == 600.0 and got["peak_rss_mb_by_step"] == {"apply": 600.0, "cold_plan": 599.0}
    assert got["cpu_s_by_step"] == {"apply": 48.0, "cold_plan": 21.0}
    assert got["apply_vs_cold"] == pytest.approx(24.0 / 13.0)  # of the least values, not a round's own ratio
    assert got["validate_vs_cold"] == pytest.approx(9.0 / 13.0)
    assert got["second_apply_vs_cold"] == pytest.approx(9.0 / 13.0)
    assert got["cold_vs_floor"] == pytest.approx(13.0 / 10.0)
    assert slow["apply_s"] == 30.0  # the rounds themselves are left as measured
