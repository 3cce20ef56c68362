# The README's commands. Everything installs into .venv from the project's own files.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS ?= dev,fast,gpu,mlflow,serve
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
WEEK   ?=
LAB_ARGS ?=

.PHONY: setup demo test lint unit integration bench bench-quick lab clean-reports samples sample-report

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "opskit needs Python >= 3.11, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	$(BIN)/opskit kernel install --sys-prefix
	@rm -f $(VENV)/.installed-* && touch $@

## demo: the weekly GPU utilization and cost report on the bundled sample fleet
demo: setup
	$(BIN)/opskit run report_gpu_cost --fail-on never $(if $(WEEK),-p week $(WEEK),)

## test: lint, unit and runbook tests, integration tests against a real Prometheus
test: setup
	$(BIN)/ruff check src tests bench runbooks && $(BIN)/ruff format --check src tests bench runbooks
	@./scripts/ensure-prometheus || true
	@./scripts/ensure-alertmanager || true
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: setup
	$(BIN)/ruff check src tests bench runbooks && $(BIN)/ruff format --check src tests bench runbooks

unit: setup
	$(BIN)/python -m pytest -n 2 -q tests/unit

integration: setup
	$(BIN)/python -m pytest -q -m integration tests/integration

## bench: every benchmark in bench/, ratios against baselines measured in the same run
bench: setup
	$(BIN)/python bench/run.py

bench-quick: setup
	$(BIN)/python bench/run.py --quick

## lab: JupyterLab on the runbooks (as root too); remote: make lab LAB_ARGS='--ip 0.0.0.0 --port 8899 --no-browser'
lab: setup
	$(BIN)/python scripts/lab $(LAB_ARGS)

samples: setup
	$(BIN)/opskit samples samples

clean-reports:
	find reports -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +

## sample-report: refresh the sample of the main job kept in git (reports/samples/)
sample-report: setup
	rm -rf .sample-run && $(BIN)/opskit run report_gpu_cost --fail-on never --out .sample-run
	mkdir -p reports/samples && cp .sample-run/report_gpu_cost/*/report_gpu_cost.html \
	    .sample-run/report_gpu_cost/*/summary.json .sample-run/report_gpu_cost/*/chat_summary.md reports/samples/
	rm -rf .sample-run
