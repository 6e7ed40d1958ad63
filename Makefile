# The two commands: `make run` serves the portal with demo data, `make test` runs the whole suite.
# Installs come from uv.lock only (every package, direct and indirect, pinned with hashes); uv itself is
# installed from tools/uv-requirements.txt, also hash-pinned. `make lock` refreshes the lock after an edit
# of pyproject.toml; `make test-latest` tries the newest versions pyproject.toml allows, without the lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# uv uses this machine's python3 and never downloads an interpreter of its own.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
# The PostgreSQL pass runs when CI=true or TEST_POSTGRES_URL is set (its own pytest process: Tortoise
# cannot switch from SQLite to PostgreSQL inside one process).
TEST_POSTGRES_URL ?= $(if $(filter true,$(CI)),postgres://postgres@127.0.0.1:5432/test,)

.PHONY: run sync-test test check lint bench lock lock-upgrade test-latest clean

$(UV): tools/uv-requirements.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r tools/uv-requirements.txt
	touch $@

run: $(UV)
	$(UV) sync --locked --quiet
	$(BIN)/python -m portal migrate
	$(BIN)/python -m portal demo
	$(BIN)/python main.py

# .venv with the test extras, exactly as locked; axe-core for the accessibility tests from the npm registry,
# exactly as tests/e2e/axe/package-lock.json pins it (without npm the e2e tests skip it, and fail under CI).
sync-test: $(UV)
	$(UV) sync --locked --quiet --extra test
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/e2e/axe --no-audit --no-fund --silent; \
	else echo "npm not found: the accessibility tests will install axe-core themselves or skip"; fi

test: sync-test
	$(MAKE) --no-print-directory check

# The suite on whatever environment BIN points at (the locked .venv, or .venv-latest for test-latest), in two
# lanes, one per core (each part is its own pytest process: Tortoise cannot switch databases inside one):
#   lane 1, on this terminal: the tests without a browser on SQLite, then the e2e page sweeps (E2E_SWEEPS);
#   lane 2, into $(LANE2_LOG): the services tier on PostgreSQL when CI=true or TEST_POSTGRES_URL is set,
#   then every other e2e test (a new e2e file lands here).
# The sweeps visit every page; with them in lane 1 the lanes take about as long (CI on 5 Dec: 725 s and 628 s;
# move a file in or out of E2E_SWEEPS when they drift apart). Lane 2's report is printed after lane 1; every
# part runs to its end and `check` fails if any did.
LANE2_LOG := .pytest-lane2.log
E2E_SWEEPS := tests/e2e/test_accessibility_e2e.py tests/e2e/test_phone_widths_e2e.py \
	tests/e2e/test_xss_e2e.py tests/e2e/test_csp_e2e.py
check:
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@status=0; \
	echo "==> lane 2 runs beside this one; its report, printed at the end: $(LANE2_LOG)"; \
	( lane=0; \
	  if [ -n "$(TEST_POSTGRES_URL)" ]; then \
		echo "==> tests/services on PostgreSQL ($(TEST_POSTGRES_URL))"; \
		TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/python -m pytest tests/services -p no:cacheprovider \
			|| lane=1; \
	  fi; \
	  echo "==> the e2e tests other than the page sweeps"; \
	  $(BIN)/python -m pytest tests/e2e -p no:cacheprovider $(addprefix --ignore=,$(E2E_SWEEPS)) || lane=1; \
	  exit $$lane ) > $(LANE2_LOG) 2>&1 & lane2=$$!; \
	echo "==> the tests without a browser, on SQLite"; \
	$(BIN)/python -m pytest --ignore=tests/e2e || status=1; \
	echo "==> the e2e page sweeps"; \
	$(BIN)/python -m pytest $(E2E_SWEEPS) || status=1; \
	wait $$lane2 || status=1; \
	echo "==> lane 2: its report"; cat $(LANE2_LOG); \
	exit $$status

lint: sync-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: sync-test
	$(BIN)/python -m bench

# After editing pyproject.toml: pin what it now asks for, keeping every other pin.
lock: $(UV)
	$(UV) lock

# Move every pin to the newest version pyproject.toml allows (run `make test` before committing it).
lock-upgrade: $(UV)
	$(UV) lock --upgrade

# The drift check: the newest versions pyproject.toml allows, in a scratch environment, the whole suite.
test-latest: $(UV)
	rm -rf .venv-latest
	$(UV) venv --quiet .venv-latest
	$(UV) pip install --quiet --python .venv-latest --upgrade --no-cache -r pyproject.toml --extra test
	$(UV) pip list --python .venv-latest --format freeze > .venv-latest/versions.txt
	$(MAKE) --no-print-directory check BIN=.venv-latest/bin

clean:
	rm -rf $(VENV) .venv-latest $(TOOLS) data artifacts .pytest_cache .hypothesis
