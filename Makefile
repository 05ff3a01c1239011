# Two entry points (see README): `make run` opens the TUI, `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
# `make run` installs on its first start (about a minute): it says what it does and lets pip show
# its progress, so a new user does not take the wait for a hang. CI's install-test stays quiet.
PIP_QUIET := --quiet
CONSTRAINTS := constraints.txt

.PHONY: run install install-test system-deps test test-sqlite test-postgres lint fmt bench clean

run: install
	@echo "==> Starting the TUI ($(BIN)/mailbell tui)"
	$(BIN)/mailbell tui

$(BIN)/python:
	@echo "==> Creating the virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	@echo "==> Installing mailbell and its dependencies into $(VENV) (about a minute the first time)"
	$(PIP) install --progress-bar on -c $(CONSTRAINTS) -e .
	@echo "==> Installed"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) $(PIP_QUIET) install -c $(CONSTRAINTS) -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core api slackbot tui mailbell

system-deps:
	./scripts/system-deps.sh

# Every test on SQLite, and again on PostgreSQL those that use a database (not the TUI's, nor the
# tests of rendering, rules and protocols that touch none: tests/conftest.py). The two passes share
# nothing (own temporary directories, ports and servers) and run side by side: CI time.
# The sources are compiled once first: where PYTHONDONTWRITEBYTECODE is set, every process the
# tests start (serve, workers, the CLI) would compile them again.
test: lint system-deps
	$(BIN)/python -m compileall -q core api tui slackbot mailbell tests > /dev/null
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

# Each pass on two pytest-xdist workers (each its own servers, PostgreSQL included), so a test
# that waits (a timeout, a rate per minute, an outage) leaves its CPU to the rest. The tests that
# measure time or hog the CPUs run one after another on one worker: tests/support/xdist_groups.py.
# XDIST= runs a pass in one process.
XDIST ?= -n 2 --dist loadgroup

# Each pass runs its share (`--ci-pass`, tests/conftest.py PG_PASS_ONLY), so that both take
# about as long: the TUI's tests and the SSH console's exercise screens and a transport, not the
# database, and run in one pass only.
test-sqlite: install-test
	$(BIN)/pytest --db=sqlite --ci-pass $(XDIST) $(PYTEST_ARGS)

test-postgres: install-test
	$(BIN)/pytest --db=postgres --ci-pass $(XDIST) $(PYTEST_ARGS)

fmt: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-test
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
