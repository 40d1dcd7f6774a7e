PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test install dev clean data bench bench-province lint format jscheck

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@ $(STAMP)

install: $(STAMP)

dev: $(DEVSTAMP)

data: $(STAMP)
	$(BIN)/dgcoverage build-demo

CIRCLES := elderly_care_15 fitness_15 legal_aid_30 culture_sports_10

demo: $(STAMP)
	$(BIN)/dgcoverage build-demo
	# the sites first, then the run: it keeps each circle's sites (its measurement is the same), so the report
	# and the overview made last list them
	for c in $(CIRCLES); do $(BIN)/dgcoverage site --circle $$c --k 10 || exit 1; done
	$(BIN)/dgcoverage run --all

test: lint jscheck
	$(BIN)/python -m pytest -q

# the browser code (dgcoverage/data/web/*.js): syntax (node --check), then ESLint (eslint.config.js, from package.json)
NODE ?= node
NPM ?= npm
NODESTAMP := node_modules/.installed

$(NODESTAMP): package.json $(wildcard package-lock.json)
	$(NPM) install --no-audit --no-fund
	touch $@

jscheck: $(NODESTAMP)
	for f in dgcoverage/data/web/*.js; do $(NODE) --check "$$f" || exit 1; done
	node_modules/.bin/eslint dgcoverage/data/web eslint.config.js

# ruff (lint, import order, pyupgrade, numpy docstrings, simplify, complexity), ruff format, mypy on the core
lint: $(DEVSTAMP)
	$(BIN)/ruff check dgcoverage scripts tests benchmarks
	$(BIN)/ruff format --check dgcoverage scripts tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf data/processed/*/ data/processed/report.* maps/*.html

bench: $(DEVSTAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python scripts/benchmark.py

# The province row only (issue 20): a SYNTHETIC province of 10 cities (~5.5 M walk nodes) run sequentially and by
# `dgcoverage batch` on 1 and 2 Dask workers; rewrites only its block of docs/benchmarks.md. Province cached in
# /tmp/dgcoverage-bench. Smaller: make bench-province BENCH_ARGS="--province-scale 0.5 --province-copies 3"
bench-province: $(DEVSTAMP)
	$(BIN)/python scripts/benchmark.py --only province $(BENCH_ARGS)

format: $(DEVSTAMP)
	$(BIN)/ruff check --fix dgcoverage scripts tests benchmarks
	$(BIN)/ruff format dgcoverage scripts tests benchmarks
