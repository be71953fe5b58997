# graphchat — every task a developer or CI runs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter .venv is made from: the system's own CPython where it will do (its build is
# optimised; scripts/pick-python.sh says why), else python3 on PATH. `make install PYTHON=…`
# chooses another; .venv is made again when the choice changes.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell scripts/pick-python.sh)
endif
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Byte-compile at install time: start-up then reads .pyc files instead of compiling ~3,000 modules
# (6 s → 2 s to import the app here), also where PYTHONDONTWRITEBYTECODE keeps Python from caching.
export UV_COMPILE_BYTECODE := 1

.PHONY: FORCE help install bytecode run test screenshots test-fast lint fmt typecheck check bench docs hooks lock lock-upgrade \
	db-upgrade clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# Offline first: uv re-validates a cached sdist over HTTP and, when the index answers with a new
# response, files it under a new revision and compiles llama-cpp-python again (~8 min). The wheel
# cache is keyed on the portable build flags, so a cached wheel is safe to reuse on any machine
# that has it; a machine without it falls through to the online sync.
$(VENV)/.installed: uv.lock pyproject.toml $(TOOLS)/interpreter | $(UV)
	$(UV) sync --frozen --offline --python $(PYTHON) 2>/dev/null || $(UV) sync --frozen --python $(PYTHON)
	@touch $@

# Rewritten only when the chosen interpreter changes, so an unchanged choice syncs nothing.
$(TOOLS)/interpreter: FORCE | $(UV)
	@echo '$(PYTHON)' | cmp -s - $@ || echo '$(PYTHON)' > $@

FORCE:

install: $(VENV)/.installed ## Create .venv with the locked dependencies

# Our own sources are an editable install, which uv does not compile; unchanged files are skipped.
bytecode: install
	@$(BIN)/python -m compileall -q src

run: bytecode ## Run the service on 127.0.0.1:8000 (SQLite + embedded model unless configured)
	$(BIN)/graphchat serve

test: bytecode ## Start PostgreSQL/Redis (installing them if needed) and run every test
	source scripts/test-services.sh && $(BIN)/pytest $(PYTEST_ARGS)

screenshots: bytecode ## Refresh docs/screenshots/ from the browser tests (needs Chromium)
	GRAPHCHAT_SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest tests/browser/test_screens.py $(PYTEST_ARGS)

test-fast: install ## Run the tests without starting any service (PostgreSQL tests skip)
	$(BIN)/pytest -m "not browser and not embedded" $(PYTEST_ARGS)

lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

fmt: install ## Format and autofix
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck: install ## mypy --strict
	$(BIN)/mypy

check: lint test ## Everything CI checks

bench: install ## Run the benchmarks; results in bench/results/, summary in docs/performance.md
	source scripts/test-services.sh && $(BIN)/python -m bench all

docs: install ## Regenerate docs/configuration.md and .env.example from the settings class
	$(BIN)/graphchat config docs --output docs/configuration.md
	$(BIN)/graphchat config env-example --output .env.example

hooks: install ## Install the git pre-commit hooks (.pre-commit-config.yaml)
	$(BIN)/pre-commit install

lock: | $(UV) ## Update uv.lock after a pyproject.toml change (keeps every other pin)
	$(UV) lock

lock-upgrade: | $(UV) ## Upgrade every locked dependency to its newest allowed version
	$(UV) lock --upgrade

db-upgrade: install ## Apply database migrations
	$(BIN)/graphchat db upgrade

clean: ## Remove the virtual environments and caches
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
