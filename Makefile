# housing: `make help` lists the verbs. Every target sets up .venv itself when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(abspath $(BIN)):$(PATH)
# Offline machines keep the raw data beside the checkout; HOUSING_RAW_DATA (or data/raw/) wins when set.
SHARED_DATA := $(abspath ../shared/data/cal_housing.data)
ifeq ($(origin HOUSING_RAW_DATA), undefined)
  ifneq ($(wildcard $(SHARED_DATA)),)
    export HOUSING_RAW_DATA := $(SHARED_DATA)
  endif
endif
# OpenMP spin-waiting makes boosted trees ~10x slower on a busy 2-core machine
export OMP_WAIT_POLICY ?= PASSIVE
NOTEBOOKS := $(wildcard nbs/[0-9]*.ipynb)

readme: $(STAMP) ## execute nbs/index.ipynb and regenerate README.md from it
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace nbs/index.ipynb && $(BIN)/nbdev_clean --fname nbs/index.ipynb
	$(BIN)/python -c 'from housing.docs import write_readme; write_readme()'

.PHONY: lock stack-test bench-score bench-api bench-shadow bench-inference sweep bench-monitor readme help install pipeline docs test test-notebooks test-py lint security export clean-nbs lab mlflow-ui serve dashboard monitor status bench-api bench-monitor bench-inference clean

help: ## list the verbs
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# the exact, hash-checked dev set from requirements/dev.lock (`make lock` regenerates it from settings.ini), then the
# package itself without dependencies: every machine and CI get the same versions
$(STAMP): requirements/dev.lock settings.ini setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (housing)" >/dev/null
	@touch $@

install: $(STAMP) ## create .venv and install the project with its dev tools

pipeline: $(STAMP) ## data check -> train every model -> promote the champion -> leaderboard
	$(BIN)/housing pipeline

test: $(STAMP) lint security ## every check: lint, security, nbdev sync, nbdev_test, nbval, pytest
	$(BIN)/nbdev_test --n_workers 2
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax $(NOTEBOOKS) tests

lint: $(STAMP) ## ruff (ruff.toml) over housing/, tests/, bench/; notebooks and library in sync
	$(BIN)/ruff check housing tests $(wildcard bench)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/code/test_sync.py

security: $(STAMP) ## bandit over housing/ (no medium or high finding); pip-audit when PyPI's advisories are reachable
	$(BIN)/bandit -q -r housing --severity-level medium
	@if $(BIN)/python -c 'import json, sys, urllib.request; sys.exit(0 if json.load(urllib.request.urlopen("https://pypi.org/pypi/requests/2.5.0/json", timeout=10)).get("vulnerabilities") else 1)' 2>/dev/null; then \
		$(BIN)/pip-audit --progress-spinner off --skip-editable; \
	else echo "security: pip-audit SKIPPED: PyPI's vulnerability data is unreachable from this machine (offline, or an index mirror without advisories)"; fi

test-notebooks: $(STAMP) ## only the library notebooks (nbdev_test)
	$(BIN)/nbdev_test --n_workers 2

test-py: $(STAMP) ## only pytest (tests/ and nbval)
	$(BIN)/python -m pytest -p no:cacheprovider --nbval-lax $(NOTEBOOKS) tests

export: $(STAMP) ## regenerate housing/ from the notebooks, clean them, rebuild README.md
	$(BIN)/nbdev_export && $(BIN)/nbdev_clean
	$(BIN)/python -c 'from housing.docs import write_readme; write_readme()'

docs: $(STAMP) ## execute every library notebook and render it to offline HTML in _docs/ (open _docs/index.html)
	$(BIN)/housing docs

lab: $(STAMP) ## JupyterLab on the repo with the project's kernel
	$(BIN)/jupyter lab --notebook-dir=.

mlflow-ui: $(STAMP) ## MLflow UI on the embedded store (or MLFLOW_TRACKING_URI); prints the link that opens on the training runs
	@$(BIN)/python -c 'from housing.tracking import ui_url; print("training runs:", ui_url())' 2>/dev/null || echo "no store yet: make pipeline"
	$(BIN)/mlflow ui --backend-store-uri "$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db}" --host 127.0.0.1 --port 5000

serve: $(STAMP) ## serve the champion on 127.0.0.1:8000
	$(BIN)/housing serve

dashboard: $(STAMP) ## the Streamlit dashboard on 127.0.0.1:8501
	$(BIN)/housing dashboard

monitor: $(STAMP) ## render a drift report from the prediction log
	$(BIN)/housing monitor

status: $(STAMP) ## terminal summary of champion, traffic and drift
	$(BIN)/housing status

bench-api: $(STAMP) ## housing serve vs mlflow models serve on the champion, loopback only, bounded runs
	$(BIN)/python bench/bench_api.py $(if $(wildcard mlflow.db),,--temp-store)

bench-shadow: $(STAMP) ## champion req/s with vs without a challenger in shadow (ratio at c=16; issue 11: >= 0.90), loopback, bounded
	$(BIN)/python bench/bench_shadow.py

bench-inference: $(STAMP) ## per-row predict latency of the champion, its features and its model (budget 2 ms)
	$(BIN)/python bench/bench_inference.py

bench-score: $(STAMP) ## housing score on 1 and 10 million generated rows, pandas vs spark (local[2]): rows/s, peak memory
	$(BIN)/python bench/bench_score.py $(if $(wildcard mlflow.db),,--temp-store)

sweep: $(STAMP) ## Optuna sweep of one model as nested MLflow runs (MODEL=lightgbm_geo TRIALS=12)
	$(BIN)/housing sweep $(or $(MODEL),lightgbm_geo) --trials $(or $(TRIALS),12)

bench-monitor: $(STAMP) ## drift report end to end (papermill): full reference vs 10,000 logged rows
	$(BIN)/python bench/bench_monitor.py $(if $(wildcard mlflow.db),,--temp-store)

.PHONY: bench-drift
bench-drift: $(STAMP) ## drift calibration: false alarms per window size, detection per scenario (20 seeds)
	$(BIN)/python bench/bench_drift.py

.PHONY: bench-labels
bench-labels: $(STAMP) ## live-performance calibration: iid vs concept_shift ALERTs, estimated vs realised RMSE (20 seeds)
	$(BIN)/python bench/bench_labels.py

LOCK_TOOLS ?= $(or $(TMPDIR),/tmp)/housing-lock-tools
UV_VERSION := 0.13.9
lock: ## regenerate requirements/*.lock (exact versions + hashes) from settings.ini's ranges with uv
	@test -x $(LOCK_TOOLS)/bin/uv || { $(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/pip install --quiet uv==$(UV_VERSION); }
	$(PYTHON) requirements/lock.py --uv $(LOCK_TOOLS)/bin/uv

stack-test: $(STAMP) ## build the images and run the compose stack for real (podman; root), then tear it down
	HOUSING_STACK_PYTHON=$(abspath $(BIN)/python) bash docker/stack_test.sh all

clean: ## remove generated artefacts (keeps .venv, data/raw and the MLflow store)
	rm -rf reports/runs reports/drift reports/index.html reports/leaderboard.html reports/leaderboard.md reports/pipeline_timing.json _docs _proc
