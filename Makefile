# The two commands: `make run` serves the portal with demo data, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The PostgreSQL pass runs when CI=true or TEST_POSTGRES_URL is set (its own pytest process: Tortoise
# cannot switch from SQLite to PostgreSQL inside one process).
TEST_POSTGRES_URL ?= $(if $(filter true,$(CI)),postgres://postgres@127.0.0.1:5432/test,)

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/python -m portal migrate
	$(BIN)/python -m portal demo
	$(BIN)/python main.py

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest
ifneq ($(TEST_POSTGRES_URL),)
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/python -m pytest tests/services
endif

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data artifacts .pytest_cache .hypothesis
