# rxguard: two set-up commands, each installs what it needs into .venv.
#   make demo   screens the demo orders in examples/, then serves them: the CDS Hooks services and the REST API
#               on http://127.0.0.1:$(DEMO_PORT) with authentication OFF (development only) until Ctrl+C
#               and the pharmacy's pages on /pharmacy/ with demo data (it prints the demo accounts first)
#   make test   lint, type-check and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_PORT ?= 8000
# The pharmacy demo (pages under /pharmacy/): a fresh SQLite file with demo people and orders; no database server.
DEMO_DB ?= sqlite:///$(CURDIR)/$(VENV)/pharmacy-demo.sqlite

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,surveillance,spark]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rxguard pharmacy demo-data --reset --database $(DEMO_DB) --port $(DEMO_PORT)
	RXGUARD_DATABASE_URL=$(DEMO_DB) RXGUARD_DEV_DISABLE_AUTH=yes-i-understand-this-is-insecure $(BIN)/rxguard serve --demo examples --port $(DEMO_PORT)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/screen.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
