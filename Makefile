# Tongban: every entry point is a make target. `make run` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint format run kb-check generate clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { \
	  echo "错误 / error: Tongban needs Python 3.11, but '$(PYTHON)' is $$($(PYTHON) -V 2>&1)."; \
	  echo "Install Python 3.11 and run: make install PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --ignore-requires-python -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

lint: install
	$(BIN)/ruff check tongban actions tests tools
	$(BIN)/ruff format --check tongban actions tests tools

format: install
	$(BIN)/ruff format tongban actions tests tools
	$(BIN)/ruff check --fix tongban actions tests tools

kb-check: install
	$(BIN)/tongban kb check

test: install lint kb-check
	$(BIN)/pytest

run: install
	$(BIN)/tongban

clean:
	rm -rf $(VENV) models .pytest_cache
