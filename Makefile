# Two entry points (see README): `make demo` and `make test`. Both set everything up from scratch.
# `make test-long` runs the long tests that `make test` leaves out; CI (.ci/run) runs both.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-long install bench clean lint format typecheck

# The runtime dependencies come from the lock (hashes checked), so the tests run against the locked versions.
$(BIN)/edcconf: pyproject.toml setup.py requirements.lock
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "edcconf needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --only-binary :all: -r requirements.lock
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/edcconf

# Validate the example organisation and plan it for the test environment.
# `plan` exits 2 when it has changes to show, which is the expected outcome on a fresh checkout.
demo: install
	$(BIN)/edcconf validate
	$(BIN)/edcconf plan --env test || [ $$? -eq 2 ]

# Every test but those marked `long` (pyproject.toml), on 2 cores in under 4 minutes; property tests with
# their fixed number of examples. .ci/run runs this and then test-long, so CI runs every test.
test: install
	$(BIN)/python -m pytest -q -n 2 -m "not long"

# The long tests, with nothing skipped (CI=true: PostgreSQL on 127.0.0.1:5432 and Chromium are required):
# 1. those marked `long` (the report and plan pages in Chromium, the wheel and venvs of the packaging tests,
#    the production run of the incremental-plan check), and the property tests again with 10 times their
#    examples (EDCCONF_LONG=1);
# 2. the kill trials at full length: KILL_TRIALS random SIGKILL/SIGTERM/SIGINTs of a real apply per state
#    backend (local, PostgreSQL) and of a REDCap apply, each checked for states without their audit entries
#    and for differences between the state and what the provider wrote; each test's time limit grows with
#    KILL_TRIALS (tests/faults/test_kill_trials.py). Serial and with -s: the counts they print are the
#    figures of docs/reliability.md.
KILL_TRIALS ?= 200
KILL_TRIAL_FILES := tests/faults/test_kill_trials.py tests/faults/test_kill_trials_redcap.py
test-long: install
	CI=true EDCCONF_LONG=1 $(BIN)/python -m pytest -q -n 2 -m "long or hypothesis" $(KILL_TRIAL_FILES:%=--ignore=%)
	CI=true EDCCONF_KILL_TRIALS=$(KILL_TRIALS) $(BIN)/python -m pytest -q -s $(KILL_TRIAL_FILES)

# Developer tools (ruff, mypy and type stubs: the `dev` extra), installed on first use.
$(VENV)/.dev-tools: $(BIN)/edcconf pyproject.toml
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $@

typecheck: $(VENV)/.dev-tools
	$(BIN)/mypy

# ruff's lint and format rules are in pyproject.toml; `make format` applies them.
lint: $(VENV)/.dev-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-tools
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/run.py --studies 200

clean:
	rm -rf $(VENV) build .edcconf .pytest_cache
