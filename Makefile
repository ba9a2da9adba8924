# One entry point for people and CI. `make up` runs trackbridge on its embedded default; `make test` runs
# every check. Both set the machine up first (a venv from the lock file), so each works on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
PORT ?= 8000
PYTEST_ARGS ?=

export UV_COMPILE_BYTECODE := 1
# jsii silences its node end-of-life banner per major version ("20"), not with a boolean.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node --version 2>/dev/null | sed 's/^v//; s/\..*//')
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: setup up test lint typecheck pytest synth bench lock clean

$(VENV)/.installed: requirements/dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip sync -q --python $(PY) requirements/dev.lock
	$(BIN)/uv pip install -q --python $(PY) --no-deps -e .
	touch $@

setup: $(VENV)/.installed

## Command 1: run trackbridge on the embedded stack (moto + sandbox trackers), demo data, no AWS account.
up: setup
	$(BIN)/trackbridge local up --port $(PORT) --seed demo

## Command 2: every check CI runs.
test: setup lint typecheck pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

synth: setup
	$(PY) -m infra.app

bench: setup
	$(PY) -m benchmarks.sync_requests $(BENCH_ARGS)

lock:
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements/dev.lock

clean:
	rm -rf $(VENV) cdk.out .trackbridge .pytest_cache .mypy_cache .ruff_cache
