# Two entry points for a fresh machine: `make demo` (the main job) and `make test`.
# Both create .venv and install maplevm with its development tools first.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup demo test lint typecheck unit campaign bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/maplevm demo

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q

# The test command: lint, strict typing, then the whole default suite.
test: lint typecheck unit

# Long campaigns, bounded (CI runs this after `make test`).
campaign: setup
	$(BIN)/pytest -q -m slow --runslow

bench: setup
	$(BIN)/python -m maplevm.bench tree

clean:
	rm -rf $(VENV) build dist src/*.egg-info .mypy_cache .ruff_cache .pytest_cache
