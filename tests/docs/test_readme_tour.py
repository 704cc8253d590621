"""The README's tour runs as written against a copy of the example organisation, and what it shows is what
edcconf prints (tests/readme_tour.py: the extraction, the setup table and the runner)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.conftest import CHECKOUT_SITE, REPO
from tests.readme_tour import matches, run_tour, steps


def test_the_readme_tour_runs_and_prints_what_it_shows(tmp_path: Path) -> None:
    # this checkout's edcconf: in this process where stdout and the exit code suffice, a subprocess (with the
    # PYTHONPATH run_edcconf gives) where the command needs a terminal
    pythonpath = os.pathsep.join([str(REPO), str(CHECKOUT_SITE), *filter(None, [os.environ.get("PYTHONPATH")])])
    failures = run_tour(
        [sys.executable, "-m", "edcconf"], tmp_path / "example", env={"PYTHONPATH": pythonpath}, in_process=True
    )
    assert not failures, "\n\n".join(failures)


def test_the_tour_is_found_in_the_readme() -> None:
    """The extraction sees the tour's commands, its prose steps and the output shown after a command."""
    tour = steps((REPO / "README.md").read_text())
    commands = [s.text.split("#")[0].split() for s in tour if not s.prose]
    assert ["edcconf", "validate"] in commands and ["edcconf", "drift", "--env", "test"] in commands
    assert any(s.prose and "by hand in REDCap" in s.text for s in tour)
    validate = next(s for s in tour if s.key == "edcconf validate")
    assert validate.shown[-1].startswith("Configuration is valid:")


def test_trimmed_output_matches_only_what_it_stands_for() -> None:
    printed = ["head as of 2026-11-30", "a", "b", "c", "Plan: 1 to add"]
    assert matches(["head as of …", "…", "Plan: 1 to add"], printed)
    assert matches(["head as of …", "a", "...", "c", "Plan: …"], printed)
    assert not matches(["head as of …", "Plan: 1 to add"], printed)  # lines left out need a …
    assert not matches(["head as of …", "…", "Plan: 2 to add"], printed)  # a shown line must be printed
    assert not matches(["head as of 2026-12-01", "…"], printed)
