# Quickstart on a fresh machine (Python 3.11+, Node, npm; no AWS credentials):
#   make synth   # set up, then synthesize every stage of $(CONFIG) into cdk.out
#   make test    # set up, then run the whole test suite
#   make cost    # set up, then print what $(CONFIG) costs a month while idle, per account and stack
# Setup is idempotent: each step re-runs only when the files it installs from change.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
CONFIG ?= config/default.yaml
# More arguments for `cdk synth`, e.g. the delivery pipeline's -c model_package_arn.<model>=<arn>.
SYNTH_ARGS ?=
VENV := .venv
CHECKOV_VENV := .venv-checkov
NODE_RUNTIME := tools/node

# jsii and the CDK CLI need Node 22 or newer. When the system Node is older (or missing), a pinned
# Node 24 from npm's `node` package is installed under tools/node and put first on PATH.
SYSTEM_NODE_OK := $(shell node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' >/dev/null 2>&1 && echo yes)
ifeq ($(SYSTEM_NODE_OK),yes)
NODE_STAMP :=
else
NODE_STAMP := $(NODE_RUNTIME)/node_modules/.installed
export PATH := $(CURDIR)/$(NODE_RUNTIME)/node_modules/.bin:$(PATH)
endif
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export CHECKOV := $(CURDIR)/$(CHECKOV_VENV)/bin/checkov
# The CLI must not try to reach AWS or the internet for version checks and notices.
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true

PY_STAMP := $(VENV)/.installed
CDK_STAMP := node_modules/.installed
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: help setup bytecode synth cost test mutation bench integ clean

help:
	@echo "make synth   set up, then synthesize every stage of CONFIG (default $(CONFIG)) into cdk.out"
	@echo "make cost    set up, then print the always-on monthly cost of CONFIG per account and stack (docs/cost.md)"
	@echo "make test    set up, then run the whole test suite"
	@echo "make mutation TARGET=approval|release|training|config|all   mutation testing of the code that runs in AWS (mutmut; slow, not in make test)"
	@echo "make bench   set up, then time synthesis and the tests into docs/performance.md (BENCH_ARGS=--help)"
	@echo "make integ   deploy the integration tests to the account of your credentials, check, destroy (INTEG_ARGS=--help)"
	@echo "make setup   install into .venv, .venv-checkov and node_modules (idempotent)"
	@echo "make clean   remove cdk.out and caches (keeps installs)"

setup: $(PY_STAMP) $(CDK_STAMP) $(CHECKOV_STAMP)

$(PY_STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@# cdk.json runs the app as `python -O` (without jsii's runtime type checks, which the tests keep). Its
	@# optimized bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set, every synth would
	@# otherwise compile aws-cdk-lib again.
	$(VENV)/bin/python -O -m compileall -q -j 0 "$$($(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null
	@touch $@

$(CHECKOV_STAMP): tools/checkov-requirements.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/checkov-requirements.txt
	@touch $@

$(NODE_RUNTIME)/node_modules/.installed: $(NODE_RUNTIME)/package.json $(NODE_RUNTIME)/package-lock.json
	cd $(NODE_RUNTIME) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CDK_STAMP): package.json package-lock.json $(NODE_STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The app's own optimized bytecode, compiled when its source changed: Python writes it by itself unless
# PYTHONDONTWRITEBYTECODE is set (as on the CI machines), where every synth would compile ~60 modules again.
bytecode: $(PY_STAMP)
	@$(VENV)/bin/python -O -m compileall -q app.py app_settings.py jsii_launcher.py mlops_constructs stacks >/dev/null

synth: $(PY_STAMP) $(CDK_STAMP) bytecode
	cdk synth --quiet --no-notices -c config=$(CONFIG) $(SYNTH_ARGS)
	@echo "Synthesized every stage of $(CONFIG) into cdk.out: $$(find cdk.out -name '*.template.json' | wc -l) templates"

# Synthesizes CONFIG in process (no cdk.out written) and prices its templates with stacks/prices.yaml.
# `python -m stacks.cost --assembly cdk.out` reads what `make synth` wrote instead.
cost: $(PY_STAMP) $(CDK_STAMP)
	$(VENV)/bin/python -m stacks.cost --config $(CONFIG)

# Test processes: one per CPU this make may use (pytest-xdist). Each synthesizes the session's platform
# once; on 2 CPUs the suite still takes ~30% less time than in one process.
TEST_WORKERS ?= auto

test: setup
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist worksteal

# Mutation testing (docs/testing.md): mutmut mutates one target's runtime code at a time and runs its tests
# against each mutant (tools/mutation.py, targets in pyproject.toml [tool.mutation.*]); `all` runs the four
# one after another. At most 2 workers. Not part of `make test`: a target takes minutes.
TARGET ?= all
MUTATION_TARGETS := approval release training config
MUTATION_WORKERS ?= 2
MUTATION_STAMP := $(VENV)/.installed-mutation

$(MUTATION_STAMP): $(PY_STAMP)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,mutation]'
	@touch $@

mutation: $(MUTATION_STAMP) $(CDK_STAMP)
	@for target in $(if $(filter all,$(TARGET)),$(MUTATION_TARGETS),$(TARGET)); do \
		$(VENV)/bin/python tools/mutation.py $$target --workers $(MUTATION_WORKERS); \
	done

# Options of bench/run.py, e.g. BENCH_ARGS="--only floor,default --runs 5".
BENCH_ARGS ?=

bench: setup bytecode
	$(VENV)/bin/python bench/run.py $(BENCH_ARGS)

# Integration tests (tests/integ) against the AWS account of the current credentials, in CONFIG's region: each
# test's stacks are deployed, its assertions checked and everything destroyed (docs/testing.md has the cost and
# the permissions). Refuses without credentials. INTEG_ARGS: test names, --costly, --update-on-failed, --keep.
# `make test` verifies their snapshots offline.
INTEG_ARGS ?=

integ: $(PY_STAMP) $(CDK_STAMP)
	INTEG_CONFIG=$(CONFIG) $(VENV)/bin/python tools/integ.py run $(INTEG_ARGS)

clean:
	rm -rf cdk.out cdk-integ.out .pytest_cache .hypothesis mutants
