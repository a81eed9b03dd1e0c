# Two commands do all set-up: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
CONFIG ?= config.yaml

.PHONY: run test test-unit test-workflow test-cluster lint dry-run report figures bench gpu-check clean

$(BIN)/snakemake: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: $(BIN)/snakemake
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)
	$(BIN)/snakemake --configfile $(CONFIG) --report report.html

dry-run: $(BIN)/snakemake
	$(BIN)/snakemake -n --configfile $(CONFIG)

test: $(BIN)/snakemake
	$(BIN)/python -m pytest -q -m "not cluster"

test-cluster: $(BIN)/snakemake
	$(BIN)/python -m pytest -q -m cluster tests/cluster

test-unit: $(BIN)/snakemake
	$(BIN)/python -m pytest -q tests/unit

test-workflow: $(BIN)/snakemake
	$(BIN)/python -m pytest -q tests/workflow

lint: $(BIN)/snakemake
	$(BIN)/ruff check cmhm workflow_scripts tests
	$(BIN)/ruff format --check cmhm workflow_scripts tests
	$(BIN)/snakemake --lint --configfile $(CONFIG)

report: $(BIN)/snakemake
	$(BIN)/snakemake --configfile $(CONFIG) --report report.html

bench: $(BIN)/snakemake
	$(BIN)/python -m cmhm complexity
	OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE} $(BIN)/python -m cmhm bench

gpu-check: $(BIN)/snakemake
	$(BIN)/python -m cmhm gpu-check

clean:
	rm -rf results/* logs benchmarks .snakemake report.html
	touch results/.gitkeep
