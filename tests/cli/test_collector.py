"""The CLI runs without the cyclic garbage collector (a third of a plan's time) and gives it back to
in-process callers."""

import gc

from tests.conftest import run_inprocess


def test_collector_is_restored_after_an_in_process_run(tmp_path):
    assert gc.isenabled()
    code, out, _ = run_inprocess(tmp_path, "--version")
    assert code == 0 and "edcconf" in out
    assert gc.isenabled()
