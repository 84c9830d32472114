# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TESTSTAMP := $(VENV)/.installed-test
BENCHSTAMP := $(VENV)/.installed-bench
FLAGSHIP := scenarios/us-iran-2019-2020.yaml
OUT ?= out/us-iran-2019-2020
RUNS ?= 20000
SEED ?= 2020
# The crisis engine's agent logit QRE on a 5-point belief grid: the grid at which the flagship's
# precision and priors were estimated from the record (its header).
# POLICY=myopic uses the one-step-lookahead stand-in instead.
POLICY ?= crisis
GRID ?= 5
# Parameter draws per claim for robustness, each re-solved (0: off; about 30 s for the whole run).
ROBUSTNESS ?= 8
# Which parameters the draws vary: the ones estimated from the record, over their intervals (the
# uncertainty the record leaves); `all` also draws every assumption's stated range.
ROBUSTNESS_OF ?= estimated
# Local Dask processes for simulation chunks and the claims' robustness draws (results do not depend on it).
WORKERS ?= 2

.PHONY: run test bench install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TESTSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

$(BENCHSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@ $(TESTSTAMP) $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/crisislab validate $(FLAGSHIP)
	$(BIN)/crisislab run $(FLAGSHIP) --runs $(RUNS) --seed $(SEED) --out $(OUT) --policy $(POLICY) --grid $(GRID) --robustness $(ROBUSTNESS) --robustness-of $(ROBUSTNESS_OF) --workers $(WORKERS)
	@echo "The report is at $(OUT)/report.html (tables: $(OUT)/results.parquet, $(OUT)/claims.csv, $(OUT)/robustness.parquet)"

# Two test processes, each test file on one of them (module fixtures are built once).
test: $(TESTSTAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: $(BENCHSTAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
