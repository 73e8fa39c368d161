# `make dev` and `make test` each create the virtual environment they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# sam build needs python3.13 for the Lambda runtime; pyenv provides it next to 3.11.
export PYENV_VERSION ?= 3.11.7:3.13.0

.PHONY: venv dev test unit integration e2e lint sam-validate bench loadtest chromium lock clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

dev: venv
	$(PY) -m local

# Debian's package at /usr/bin/chromium, the one the browser tests drive (not just any chromium on PATH).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	@/usr/bin/chromium --version

lint: venv
	$(BIN)/ruff check .

sam-validate: venv
	$(BIN)/sam validate --lint

# Every test must run: a skip (a missing prerequisite) fails here, as under CI (tests/conftest.py).
test: venv chromium lint sam-validate
	REQUIRE_TEST_PREREQUISITES=1 $(BIN)/pytest -q

bench: venv
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
	rm -rf $(VENV) .aws-sam .pytest_cache
