# GroupVisits: `make run` serves the demo clinic, `make test` runs every test.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# wsgi.py serves production unless told otherwise; these targets run the demo clinic.
FLASK := GROUPVISITS_CONFIG=development $(BIN)/flask --app wsgi
PORT ?= 5000

.PHONY: run test install install-test install-load migrate lint bench load clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed setup.cfg
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

$(VENV)/.installed-load: $(VENV)/.installed setup.cfg
	$(BIN)/pip install --quiet -e ".[load]"
	touch $@

install-load: $(VENV)/.installed-load

migrate: install
	$(FLASK) db upgrade

run: migrate
	$(FLASK) groupvisits seed-demo --if-empty
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: install-test
	$(BIN)/pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m benchmarks.run

load: install-load
	scripts/load-run

lint: install-test
	$(BIN)/ruff check groupvisits tests migrations benchmarks config.py wsgi.py
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
