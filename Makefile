# ticketbot developer commands. `make demo` runs it, `make test` tests it; see README.md.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo dev run test lint migrate bench resilience clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install  ## play one ticket from question to resolution against the bundled emulator
	$(BIN)/ticketbot demo

dev: install  ## run ticketbot against the bundled Slack emulator (no Slack app needed)
	$(BIN)/ticketbot dev

run: install  ## run ticketbot against real Slack, configured by .env
	$(BIN)/ticketbot serve

test: install  ## lint, type-check and check the layers, then the suite on SQLite and PostgreSQL
	$(BIN)/ruff check .
	$(BIN)/mypy app
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -n 3 -m "not resilience"
	$(BIN)/pytest -n 2 -m resilience

lint: install
	$(BIN)/ruff check .

migrate: install
	$(BIN)/ticketbot migrate

bench: install
	$(BIN)/python bench/outbox_throughput.py

resilience: install  ## the resilience harness's long mode on SQLite and TEST_DATABASE_URL's PostgreSQL
	$(BIN)/python -m bench.chaos --mode long

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
