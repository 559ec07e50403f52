# Two commands work on a fresh machine with Python 3.11+ and make:
#   make demo   train, register and query the example models (registry in .roost-demo/)
#   make test   install the dev tools, then run scripts/check and scripts/test (both tiers)
# Installs go into .venv and are redone only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# one stamp per install step; pyproject.toml is the only input they depend on
INSTALLED := $(VENV)/.installed-all
INSTALLED_DEV := $(VENV)/.installed-dev
DEMO_HOME := .roost-demo

.DEFAULT_GOAL := help
.PHONY: help install dev demo test check unit clean

help:
	@echo "make demo    train and register example models, then predict (ROOST_HOME=$(DEMO_HOME))"
	@echo "make test    lint, type-check and run every test (unit + integration) with coverage"
	@echo "make check   scripts/check only: ruff format --check, ruff check, mypy --strict"
	@echo "make unit    the fast tier only: pytest -m 'not integration'"
	@echo "make clean   remove .venv, the demo registry and caches"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "roost needs Python 3.11 or newer; this $(PYTHON) is " + sys.version.split()[0] + " (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)

# roost with every extra the examples and tests need (xgboost comes as xgboost-cpu)
$(INSTALLED): pyproject.toml | $(BIN)/python
	@echo "Installing roost[all,demo] into $(VENV) (the first time takes a few minutes)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,demo]'
	@touch $@

# the [dependency-groups] dev tools; `pip install --group` needs pip 25.1+, upgraded above
$(INSTALLED_DEV): $(INSTALLED)
	@echo "Installing the dev tools into $(VENV)"
	$(BIN)/python -m pip install --quiet --group dev
	@touch $@

install: $(INSTALLED)

dev: $(INSTALLED_DEV)

demo: $(INSTALLED)
	ROOST_HOME=$(DEMO_HOME) $(BIN)/python examples/demo.py

check: $(INSTALLED_DEV)
	scripts/check

unit: $(INSTALLED_DEV)
	$(BIN)/pytest -m "not integration"

# both run even when the first fails, so one pass shows every problem
test: $(INSTALLED_DEV)
	@status=0; scripts/check || status=$$?; scripts/test || status=$$?; exit $$status

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
