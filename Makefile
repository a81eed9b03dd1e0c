# Two commands do all set-up: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
CONFIG ?= config.yaml
# torch: the CPU wheel by default, from PyTorch's CPU index (PyPI's Linux wheel bundles CUDA, several GB).
# On a CUDA machine: `make TORCH_INDEX=https://download.pytorch.org/whl/cu126 run`, or install torch
# yourself first (any version pyproject.toml allows) and `make TORCH= run` to keep it.
TORCH ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
SNAKEMAKE ?= $(BIN)/snakemake
# options of `python -m cmhm bench`, e.g. make bench BENCH_ARGS="--device cuda --train-size 256 --train-width 256 --train-depth 4"
BENCH_ARGS ?=
# rules that draw figures from stored metrics; `make figures` forces them to run again
FIGURE_RULES := plot_results plot_union_mapping contact_sheet plot_training
# the config files checked first, naming file and line (Snakemake's own message for a bad --configfile does not)
# the venv's python (a test that runs make in a temporary copy names its own)
PY ?= $(BIN)/python
CHECK_CONFIG = $(PY) -m cmhm check-config $(CONFIG)
# make test: pytest worker processes (pytest-xdist), two by default: a 2-core machine's tests in ~2/3 of the
# time of one process. worksteal: each worker starts on its half of the tests in order (tests/conftest.py
# puts the longest first) and takes from the other's when done. TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2
PYTEST = $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

.PHONY: run test test-unit test-workflow test-cluster lint dry-run report figures bench gpu-check clean

$(BIN)/snakemake: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH),$(BIN)/python -m pip install --quiet --retries 1 "$(TORCH)" $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)))
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: $(BIN)/snakemake
	$(CHECK_CONFIG)
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)
	$(BIN)/snakemake --configfile $(CONFIG) --report report.html

dry-run: $(BIN)/snakemake
	$(CHECK_CONFIG)
	$(BIN)/snakemake -n --configfile $(CONFIG)

test: $(BIN)/snakemake
	$(PYTEST) -m "not cluster"

test-cluster: $(BIN)/snakemake
	$(BIN)/python -m pytest -q -m cluster tests/cluster

test-unit: $(BIN)/snakemake
	$(PYTEST) tests/unit

test-workflow: $(BIN)/snakemake
	$(PYTEST) tests/workflow

lint: $(BIN)/snakemake
	$(BIN)/ruff check cmhm workflow_scripts tests
	$(BIN)/ruff format --check cmhm workflow_scripts tests
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint --configfile $(CONFIG)

report: $(BIN)/snakemake
	$(CHECK_CONFIG)
	$(BIN)/snakemake --configfile $(CONFIG) --report report.html

# re-render every figure from stored metrics and logs (never retrains): a plain `snakemake figures` on a
# finished run has nothing to do, so the figure rules are forced
figures: $(BIN)/snakemake
	$(CHECK_CONFIG)
	$(SNAKEMAKE) figures --cores $(CORES) --configfile $(CONFIG) --forcerun $(FIGURE_RULES)

bench: $(BIN)/snakemake
	$(BIN)/python -m cmhm complexity
	$(BIN)/python -m cmhm bench $(BENCH_ARGS)

gpu-check: $(BIN)/snakemake
	$(BIN)/python -m cmhm gpu-check

clean:
	rm -rf results/* logs benchmarks .snakemake report.html
	touch results/.gitkeep
