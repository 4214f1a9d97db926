# Tongban: every entry point is a make target. `make run` and `make test` are the two that matter.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore::DeprecationWarning

.PHONY: install test lint format run shell train kb-check generate validate rasa-test pytest bench browser-test clean run-cluster cluster-test
MODEL := models/tongban.tar.gz
GENERATED := data/jieba/userdict.txt data/nlu/generated_knowledge.yml
TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' -o -name '*.txt' 2>/dev/null) \
	$(wildcard tongban/nlu/*.py)

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
	$(BIN)/ruff check tongban actions tests tools bench
	$(BIN)/ruff format --check tongban actions tests tools bench

format: install
	$(BIN)/ruff format tongban actions tests tools bench
	$(BIN)/ruff check --fix tongban actions tests tools bench

kb-check: install
	$(BIN)/tongban kb check

# Generated from knowledge/: the jieba user dictionary and the NLU synonyms and lookup table.
generate: install
	$(BIN)/python -m tongban.nlu.generate

# The generator rewrites a file only when its content changes, so an unchanged dictionary does not
# force a retrain; the stamp records that the generator has seen the current knowledge files.
$(GENERATED): var/generated.stamp
var/generated.stamp: $(shell find knowledge -name '*.yaml') $(wildcard tongban/nlu/generate.py) | install
	$(BIN)/python -m tongban.nlu.generate
	@mkdir -p var && touch $@

validate: install $(GENERATED)
	$(BIN)/rasa data validate --fail-on-warnings --quiet

# Trains only when data, config, domain or knowledge changed.
train: $(MODEL)
$(MODEL): $(TRAINING_INPUTS) $(GENERATED) | install
	$(BIN)/rasa train --fixed-model-name tongban --out models --quiet

# `rasa test core` reads endpoints.yml but calls no action: the token only has to be defined.
rasa-test: $(MODEL)
	TONGBAN_ACTION_TOKEN=$${TONGBAN_ACTION_TOKEN:-unused-by-rasa-test} $(BIN)/rasa test core --stories tests/test_stories.yml --model $(MODEL) \
	  --fail-on-prediction-errors --out var/test-results

pytest: install
	$(BIN)/pytest

# Browser tests: Debian's Chromium (installed when missing) driven by Playwright against the real
# servers; screenshots land in tests/artifacts/.
browser-test: install $(MODEL)
	tools/install_browser.sh
	$(BIN)/pytest tests/browser

# Cluster tests: two Rasa servers on PostgreSQL and Redis behind nginx, on loopback (tests/cluster).
cluster-test: install $(MODEL)
	tools/install_nginx.sh
	tools/services.sh
	$(BIN)/pytest tests/cluster

test: install lint kb-check validate pytest rasa-test browser-test cluster-test

# The demo cases are hashed with the server secret, so the import reads the same secrets as run.sh.
run: install $(MODEL)
	@. tools/secrets.sh && $(BIN)/tongban cases import demo/cases.yaml
	@tools/run.sh

# The cluster profile: 2 Rasa + 2 action servers (TONGBAN_CLUSTER_SIZE), PostgreSQL, Redis, nginx
# on TONGBAN_CLUSTER_PORT (8080); see README, 集群 / Several machines.
run-cluster: install $(MODEL)
	@tools/run_cluster.sh

shell: install $(MODEL)
	@tools/shell.sh

# Accuracy and speed side by side with the baselines; writes bench/REPORT.md (not part of test).
bench: install $(GENERATED)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) models var .pytest_cache
