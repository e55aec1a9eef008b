# The two commands: `make demo` runs the whole cycle, `make test` runs every check.
# Both create .venv and install the project into it on first use; later runs reinstall
# only when pyproject.toml changed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet

.DEFAULT_GOAL := help
.PHONY: browser help demo test lint typecheck unit integration e2e bench bench-evaluate bench-backtest bench-signal bench-deliver bench-api chaos-deliver clean

help:
	@echo "make demo   - sandbox CRM, sync, rules and write-back on a fresh SQLite store"
	@echo "make test   - ruff, mypy and the whole pytest suite (SQLite and PostgreSQL)"
	@echo "make lint | typecheck | unit | integration | e2e - one part of 'make test'"
	@echo "make bench  - sync benchmarks against the sandbox (SQLite and PostgreSQL, ~25 min)"
	@echo "make bench-evaluate - the default rule pack on a 1M-activity org vs a raw SQL scan"
	@echo "make bench-backtest - replay and score the default pack on seeded orgs vs live runs"
	@echo "make bench-signal - the default pack's scores on 24 and 200 reps, four quarters"
	@echo "make bench-deliver - CRM calls per delivered task vs the batch-limit minimum"
	@echo "make bench-api - API latency (findings list, scorecards) vs the SQL each request runs"
	@echo "make chaos-deliver - 'driftcoach deliver' SIGKILLed ~100 times over 1,000 tasks"
	@echo "make clean  - remove .venv and caches"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# One stamp per install flavour, each rebuilt when the project's metadata changes.
$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(PIP) install --editable '.[sandbox]'
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install --editable '.[test]'
	@touch $@ $(VENV)/.installed-app

demo: $(VENV)/.installed-app
	$(BIN)/driftcoach demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

unit: $(VENV)/.installed-test
	$(BIN)/pytest tests/unit

integration: $(VENV)/.installed-test
	$(BIN)/pytest tests/integration

e2e: $(VENV)/.installed-test
	$(BIN)/pytest tests/e2e

test: lint typecheck browser $(VENV)/.installed-test
	$(BIN)/pytest -n auto --dist loadfile

# Debian's Chromium renders the backtest report in a test; installed once, as root,
# where apt is the package manager (elsewhere that test skips, and fails under CI=true).
browser:
	@command -v chromium >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.sync_salesforce --backend both
	$(BIN)/python -m bench.sync_hubspot --backend both

bench-evaluate: $(VENV)/.installed-test
	$(BIN)/python -m bench.evaluate --backend both

bench-backtest: $(VENV)/.installed-test
	$(BIN)/python -m bench.backtest

bench-signal: $(VENV)/.installed-test
	$(BIN)/python -m bench.backtest --sizes 24x18,200x18 --quarters 4 --runs 0

bench-deliver: $(VENV)/.installed-test
	$(BIN)/python -m bench.deliver

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis driftcoach-demo.db* \
		driftcoach-demo-backtest-*.html test-artefacts

# The SIGKILL campaign at length: 30 kills per CRM on SQLite, 10 rounds of two workers on
# PostgreSQL (make test runs 3 and 1); DRIFTCOACH_SIGKILL_SEED replays one.
chaos-deliver: $(VENV)/.installed-test
	DRIFTCOACH_SIGKILL_ROUNDS=30 $(BIN)/pytest tests/e2e/test_deliver_sigkill.py -s

bench-api: $(VENV)/.installed-test
	$(BIN)/python -m bench.api
