# Two commands for a fresh machine: `make demo` and `make test`. Each creates .venv if missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench requirements clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

## One full cycle on the embedded demo data (results in demo/).
demo: $(VENV)/.installed
	$(BIN)/cantines demo

## The whole test suite (PostgreSQL tests run when CANTINES_TEST_DATABASE_URL is set).
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

## Benchmarks: they print figures, they do not pass or fail on time.
bench: $(VENV)/.installed-test
	@for b in tests/bench/bench_*.py; do $(BIN)/python -m tests.bench.$$(basename $$b .py) || exit 1; done

## Pin the runtime dependencies for the PaaS buildpacks (requirements.txt), from a clean environment.
requirements:
	rm -rf .venv-requirements
	$(PYTHON) -m venv .venv-requirements
	.venv-requirements/bin/python -m pip install --quiet --upgrade pip
	.venv-requirements/bin/python -m pip install --quiet .
	{ sed -n '1,3p' requirements.txt; .venv-requirements/bin/python -m pip freeze --exclude cantines-worker; echo "."; } > requirements.txt.new
	mv requirements.txt.new requirements.txt
	rm -rf .venv-requirements

clean:
	rm -rf demo .pytest_cache
