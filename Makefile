# Two entry points (see README): `make demo` and `make test`. Both set everything up from scratch.
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

test: install
	$(BIN)/python -m pytest -q -n 2

# The kill trials at full length: 200 random SIGKILLs of a real apply per state backend (local and
# PostgreSQL on 127.0.0.1:5432, required: CI=true), each checked for states without their audit entries
# and for differences between the state and the csv provider's files. `make test` runs 10 per backend.
KILL_TRIALS ?= 200
test-long: install
	CI=true EDCCONF_KILL_TRIALS=$(KILL_TRIALS) $(BIN)/python -m pytest -q -s -o timeout=3600 tests/faults/test_kill_trials.py tests/faults/test_kill_trials_redcap.py

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
