# `make dev` and `make test` each create the virtual environments and build steps they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The SAM CLI has a virtualenv of its own (pyproject.toml's dependency group `sam`).
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
# The Lambda runtime's Python, for the second run of the unit and integration tests.
VENV313 := .venv-3.13

# sam build needs a python3.13 that runs (the Lambda runtime's): the first one on PATH that does, else
# pyenv's newest 3.13 whatever PYENV_VERSION the caller exported (pyenv's shim exits 127 outside it).
# A link to it in .python3.13/ goes first on PATH for every recipe, and nothing else does.
PYTHON313 := $(or $(shell python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null),\
	$(shell PYENV_VERSION="$$(pyenv latest 3.13 2>/dev/null)" pyenv which python3.13 2>/dev/null))
export PATH := $(CURDIR)/.python3.13:$(PATH)

.DEFAULT_GOAL := venv
.PHONY: venv dev test unit integration e2e lint typecheck sam-validate bench loadtest chromium tracker python3.13 lock clean

include functions/collect/Makefile

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(SAM_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --upgrade pip
	$(SAM_VENV)/bin/pip install -q --group sam
	touch $@

$(VENV313)/.installed: pyproject.toml .python3.13/python3.13
	.python3.13/python3.13 -m venv $(VENV313)
	$(VENV313)/bin/pip install -q --upgrade pip
	$(VENV313)/bin/pip install -q -e '.[dev]'
	touch $@

.python3.13/python3.13:
	@test -n "$(PYTHON313)" || { echo "sam build and the tests need Python 3.13 (the Lambda runtime): install it (pyenv install 3.13) or put python3.13 on PATH" >&2; exit 1; }
	mkdir -p $(@D) && ln -sfn "$(PYTHON313)" $@

python3.13: .python3.13/python3.13

venv: $(BIN)/.installed tracker

dev: venv
	$(PY) -m local

# Debian's package at /usr/bin/chromium, the one the browser tests drive (not just any chromium on PATH).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	@/usr/bin/chromium --version

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

sam-validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

# Everything on 3.11 (the CLI's and local stack's Python), then unit and integration again on 3.13,
# the Lambda runtime's (the slow ones, sam build and the bench, build with 3.13 whatever runs them).
# Every test must run: a skip (a missing prerequisite) fails here, as under CI (tests/conftest.py).
test: venv $(SAM_VENV)/.installed $(VENV313)/.installed python3.13 chromium lint typecheck sam-validate
	REQUIRE_TEST_PREREQUISITES=1 $(BIN)/pytest -q
	REQUIRE_TEST_PREREQUISITES=1 $(VENV313)/bin/pytest -q -p no:cacheprovider -m 'not slow' tests/unit tests/integration

bench: venv $(SAM_VENV)/.installed python3.13
	$(PY) bench/run.py

# 20,000 beacons at concurrency 16 with a fault burst half way; LOADTEST_ARGS="--beacons 2000" for less.
loadtest: venv
	$(PY) bench/loadtest.py $(LOADTEST_ARGS)

# layers/shared/requirements.lock from the layer's top-level pins: every package with its hashes, resolved
# for Lambda (cp313, aarch64), without botocore and what only it needs (the runtime has them).
UV_VERSION := 0.13.8
lock: venv
	$(BIN)/pip install -q uv==$(UV_VERSION)
	cd layers/shared && ../../$(BIN)/uv pip compile -q requirements.txt requirements-no-deps.txt \
		--python-version 3.13 --python-platform aarch64-manylinux2014 --generate-hashes \
		--no-emit-package botocore --no-emit-package urllib3 --no-emit-package python-dateutil \
		--no-emit-package six --custom-compile-command "make lock" -o requirements.lock

clean:
	rm -rf $(VENV) $(SAM_VENV) $(VENV313) .python3.13 node_modules functions/collect/tracker.min.js .aws-sam .pytest_cache
