PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test install dev clean data bench

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

demo: $(STAMP)
	$(BIN)/dgcoverage build-demo
	$(BIN)/dgcoverage run --all

test: $(DEVSTAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf data/processed/* maps/*.html

bench: $(DEVSTAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	$(BIN)/python scripts/benchmark.py
