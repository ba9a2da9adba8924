# One entry point for people and CI. `make up` runs trackbridge on its embedded default; `make test` runs
# every check. Both set the machine up first (one venv, from lock files), so each works on a fresh clone.
#
# Two locked sets share the one .venv, each installed when its lock is newer than its stamp:
#   requirements/local.lock  the runtime set, trackbridge[local]: all that `trackbridge local up` imports
#   requirements/dev.lock    the dev set, trackbridge[dev]: the runtime set plus the checks, CDK and clients
# `make lock` compiles both from pyproject.toml, the runtime set constrained by the dev set, so the two
# agree on every version. Installs only add (`uv pip install -r`, never `sync`): `make test` after
# `make up` adds the dev set, `make up` after `make test` finds the runtime set there and removes nothing.
# A dependency removed from a lock stays in an old venv until `make clean`; CI always starts fresh.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.8
PORT ?= 8000
PYTEST_ARGS ?=

# Stamps: what has been installed into .venv, and from which lock (by modification time).
UV_STAMP := $(VENV)/.uv-$(UV_VERSION)
EDITABLE_STAMP := $(VENV)/.editable
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

# No bytecode compilation at install. Measured (README, "Install figures"): compiling every file added about
# 25 s to the runtime set's install and 40 s to the dev set's (+124 MB, +343 MB) to save about 2 s on the first
# `local up` and under 15 s on the first test run; Python compiles what it imports, once. Opt in with
# `make up UV_COMPILE_BYTECODE=1`.
export UV_COMPILE_BYTECODE ?= 0
# jsii silences its node end-of-life banner per major version ("20"), not with a boolean.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node --version 2>/dev/null | sed 's/^v//; s/\..*//')
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: setup setup-local up test lint typecheck pytest synth bench lock clean

$(UV_STAMP):
	@echo "==> setup: creating $(VENV) ($(PYTHON)) with uv $(UV_VERSION)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check uv==$(UV_VERSION)
	touch $@

$(EDITABLE_STAMP): pyproject.toml $(UV_STAMP)
	@echo "==> setup: installing trackbridge itself (editable, no dependencies)"
	$(UV) pip install --python $(PY) --no-deps -e .
	touch $@

$(RUNTIME_STAMP): requirements/local.lock $(UV_STAMP)
	@echo "==> setup: installing the runtime set, $$(grep -c '==' $<) packages from $< (what make up runs)"
	$(UV) pip install --python $(PY) -r $<
	touch $@

$(DEV_STAMP): requirements/dev.lock $(UV_STAMP)
	@echo "==> setup: installing the dev set, $$(grep -c '==' $<) packages from $< (checks, CDK, tracker clients)"
	$(UV) pip install --python $(PY) -r $<
	touch $@

## The runtime set: enough for `make up`.
setup-local: $(RUNTIME_STAMP) $(EDITABLE_STAMP)

## The dev set: everything `make test` and the other targets use.
setup: $(DEV_STAMP) $(EDITABLE_STAMP)

## Command 1: run trackbridge on the embedded stack (moto + sandbox trackers), demo data, no AWS account.
up: setup-local
	@echo "==> starting the embedded stack on port $(PORT) (make up PORT=0 picks free ports)"
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
	$(PY) -m benchmarks.activity_requests
	$(PY) -m benchmarks.catalog_requests
	$(PY) -m benchmarks.list_issues
	$(PY) -m benchmarks.webhooks $(WEBHOOK_BENCH_ARGS)
	$(PY) -m benchmarks.auto_issue_storm $(AUTO_ISSUE_BENCH_ARGS)
	$(PY) -m benchmarks.cold_imports

## Refresh both locks from pyproject.toml (existing pins are kept unless pyproject.toml rules them out).
lock: $(UV_STAMP)
	@echo "==> lock: requirements/dev.lock (trackbridge[dev])"
	$(UV) pip compile -q pyproject.toml --extra dev --python-version 3.11 -o requirements/dev.lock
	@echo "==> lock: requirements/local.lock (trackbridge[local], at the dev lock's versions)"
	$(UV) pip compile -q pyproject.toml --extra local --python-version 3.11 -c requirements/dev.lock \
		-o requirements/local.lock

clean:
	rm -rf $(VENV) cdk.out .trackbridge .pytest_cache .mypy_cache .ruff_cache
