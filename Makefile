# gmmgen: `make run` reproduces the experiment, `make test` checks it.
# Both first create .venv and install the locked packages when needed.

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3.11
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
# DVC runs stage commands through the shell: they must find the venv's python.
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
# make promote's REASON reaches the command through the environment, so quotes in it need no escaping.
export GMMGEN_REASON = $(REASON)

ARGS ?=
WAIT ?=
PORT ?= 5000
DOCS_PORT ?= 8000
SERVE_PORT ?= 5001
MODEL ?= gmmgen-digit-generator
ALIAS ?= champion
VERSION ?=
REASON ?=
REF ?=
SWEEP ?= pca.variance=0.8,0.85,0.9 sweep.covariance_types=[full],[diag]
SERVER_DIR ?= outputs/server
SERVER_PORT ?= 5050
CLUSTER_DIR ?= outputs/cluster
CLUSTER_PORT ?= 0
CLUSTER_CPUS ?= 0
LAUNCHER ?= parallel
REMOTE ?=
# DVC 3 ends every `dvc repro` that ran a stage with "Use `dvc push` to send your updates to remote
# storage." and has no setting for it (core.autostage only silences the "git add dvc.lock" hint, and
# `dvc repro -q` would hide DVC's errors too), so the run targets drop that one line from stdout (stderr,
# where errors and Ctrl-C's last words go, is not filtered). The filter ignores Ctrl-C, SIGTERM and SIGHUP
# (sent to the whole process group): it reads on until the stages' last line, so their pipe never breaks.
DROP_PUSH_HINT = | { trap '' INT TERM HUP; grep --line-buffered -vxF 'Use `dvc push` to send your updates to remote storage.' || true; }

.PHONY: tutorial
.PHONY: help install install-gpu postgresql slurm cluster cluster-stop params run exp compare findings sweep ui serve promote gate server server-stop push pull test test-slow mutate bench bench-gpu bench-load lint format dvc-yaml docs docs-serve dag metrics plots lock clean clean-cache clean-all

help: ## List the targets
	@echo "gmmgen: Gaussian mixture models on PCA-whitened MNIST (Hydra + DVC + MLflow)"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-12s %s\n", $$1, $$2}'
	@echo
	@echo "  Variables: ARGS='<hydra overrides>' and WAIT=1 (run), SWEEP='<multirun overrides>' (sweep), PORT=5000 (ui),"
	@echo "             SERVE_PORT=5001 MODEL=gmmgen-digit-generator ALIAS=champion, or VERSION=<n> (serve)"
	@echo "             SERVER_PORT=5050 SERVER_DIR=outputs/server (server), REMOTE=<dvc remote> (push, pull)"
	@echo "             LAUNCHER=parallel|slurm (sweep), CLUSTER_DIR=outputs/cluster CLUSTER_PORT=0 (free ports)"
	@echo "             CLUSTER_CPUS=0 (cluster: the CPUs its node offers; 0 = this machine's cores)"
	@echo "             DOCS_PORT=8000 (docs-serve), VERSION=<n> REASON='<why>' ALIAS=champion (promote), REF=main|champion (gate)"

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required; set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the locked packages (only when missing or the lock changed)

postgresql: ## Install PostgreSQL (Debian's package, as root) when it is missing
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing PostgreSQL: apt-get install postgresql"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "error: PostgreSQL is missing: install it (sudo apt-get install postgresql)"; exit 1; fi; }

# The one-node SLURM cluster of `make cluster` (gmmgen.tracking.cluster) and its accounting database. For `make test`
# (SLURM_OPTIONAL) a machine where they cannot be installed is one line, and the SLURM tests skip (fail in CI).
SLURM_PACKAGES := slurmctld slurmd slurm-client slurmdbd munge mariadb-server
SLURM_OPTIONAL ?=
slurm: ## Install SLURM, munge and MariaDB (Debian's packages, as root) when missing
	@PATH=$$PATH:/usr/sbin:/sbin; for p in munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sbatch sacct; do \
	  command -v $$p >/dev/null || missing="$$missing $$p"; done; [ -z "$$missing" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing SLURM (missing:$$missing): apt-get install $(SLURM_PACKAGES)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      $(SLURM_PACKAGES) >/dev/null; } || { [ -n "$(SLURM_OPTIONAL)" ] && \
	      echo "note: apt-get could not install SLURM: the SLURM tests skip (fail in CI)"; }; \
	  elif [ -n "$(SLURM_OPTIONAL)" ]; then \
	    echo "note: SLURM is missing ($$missing) and cannot be installed here (not root, or no apt-get): the SLURM tests skip"; \
	  else echo "error: SLURM is missing ($$missing): install it (sudo apt-get install $(SLURM_PACKAGES))"; exit 1; fi; }

install-gpu: $(STAMP) ## Add the GPU extra to .venv (torch, CuPy, CUDA 13 libraries) from requirements-gpu.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-gpu.lock
	@echo "GPU extra installed: make run ARGS='compute.namespace=torch compute.device=cuda'"

params: $(STAMP) ## Compose + validate the config (with ARGS overrides) into params.yaml; check tracking
	$(BIN)/python pipelines/configure.py $(ARGS)

run: $(STAMP) ## Reproduce the experiment: params.yaml, then `dvc repro`; one run per checkout (WAIT=1: wait in line)
	@# Under the lock: the config, then the git state and start time (recorded before the stages rewrite
	@# dvc.lock; the track stage reads them), then the stages.
	@set -o pipefail; PYTHONUNBUFFERED=1 $(BIN)/python -m gmmgen.runtime.runlock $(if $(filter 1,$(WAIT)),--wait) -- \
		$(BIN)/python pipelines/configure.py $(ARGS) -- $(BIN)/python -m gmmgen.tracking.runinfo start -- $(BIN)/dvc repro \
		$(DROP_PUSH_HINT); rc=$$?; rm -f outputs/run_start.json; exit $$rc
	@echo
	@$(BIN)/python -m gmmgen.report.summary outputs
	@echo "Results: results/metrics.json (headline, tracked by git), outputs/<stage>/  |  make compare  |  make ui  |  make push"

exp: $(STAMP) ## DVC experiment from the workspace (ARGS='-S pca.variance=0.9'); a failed one puts every file back
	@keep=$$(mktemp -d); cp params.yaml dvc.lock $$keep/; cp results/metrics.json $$keep/ 2>/dev/null; \
	if $(BIN)/dvc exp run $(ARGS); then rm -rf $$keep; else rc=$$?; \
		cp $$keep/params.yaml $$keep/dvc.lock .; cp $$keep/metrics.json results/ 2>/dev/null; rm -rf $$keep; \
		$(BIN)/dvc checkout --quiet; echo "exp failed (exit $$rc): params.yaml, dvc.lock, results/ and outputs/ are as they were"; exit $$rc; fi

compare: $(STAMP) ## Table of the headline metrics and changed params: the workspace, main and every DVC experiment
	@$(BIN)/python -m gmmgen.report.compare

findings: $(STAMP) ## Rewrite the findings tables of docs/results.md from the last `make run` (outputs/)
	$(BIN)/python pipelines/findings.py

tutorial: $(STAMP) ## The tutorial's sections (own config: conf/tutorial.yaml, ARGS='em.n_steps=40'): outputs/tutorial/
	@# Its own params file (pipelines/tutorial/params.yaml), then its own stages, under the run lock;
	@# the pipeline's params.yaml, and any experiment applied to it, is never written.
	@set -o pipefail; PYTHONUNBUFFERED=1 $(BIN)/python -m gmmgen.runtime.runlock $(if $(filter 1,$(WAIT)),--wait) -- \
		$(BIN)/python pipelines/tutorial/configure.py $(ARGS) -- $(BIN)/dvc repro pipelines/tutorial/dvc.yaml \
		$(DROP_PUSH_HINT)

# LAUNCHER=slurm with a running `make cluster` (and no SLURM_CONF of your own) submits to that cluster.
CLUSTER_CONF = $(if $(and $(filter slurm,$(LAUNCHER)),$(if $(SLURM_CONF),,$(wildcard $(CLUSTER_DIR)/state.json))),SLURM_CONF=$(abspath $(CLUSTER_DIR))/slurm.conf)
sweep: $(STAMP) ## Hydra multirun of the whole pipeline, jobs in parallel (SWEEP='...' grid; LAUNCHER=slurm: on SLURM)
	$(CLUSTER_CONF) $(BIN)/python pipelines/run_all.py -m hydra/launcher=$(LAUNCHER) $(SWEEP) $(ARGS)

ui: $(STAMP) ## MLflow UI for outputs/mlflow.db on http://127.0.0.1:PORT (default 5000)
	@$(BIN)/python -m gmmgen.report.summary --ui $(PORT) outputs
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/outputs/mlflow.db \
		--default-artifact-root $(CURDIR)/outputs/mlartifacts --host 127.0.0.1 --port $(PORT)

serve: $(STAMP) ## Serve the @champion digit generator (ALIAS=<alias> or VERSION=<n> for another) on http://127.0.0.1:SERVE_PORT
	MLFLOW_TRACKING_URI=sqlite:///$(CURDIR)/outputs/mlflow.db $(BIN)/python -m gmmgen.tracking.serving \
		--model-uri models:/$(MODEL)$(if $(VERSION),/$(VERSION),@$(ALIAS)) --host 127.0.0.1 --port $(SERVE_PORT) $(ARGS)

bench-load: $(STAMP) ## The served model under a concurrent mix of valid and hostile requests (loopback; ARGS='--requests 600')
	$(BIN)/python bench/load.py --out outputs/bench/load.md $(ARGS)

promote: $(STAMP) ## Move @champion (ALIAS) to model VERSION=<n> by hand, recording who and why (REASON="...")
	@$(BIN)/python pipelines/promote.py --version "$(VERSION)" --reason "$$GMMGEN_REASON" --alias "$(ALIAS)" $(ARGS)

gate: $(STAMP) ## CI gate: results/metrics.json vs main's (REF=<rev>|champion); fails past conf/gate.yaml's tolerances
	@$(BIN)/python -m gmmgen.tracking.gate $(if $(REF),--reference "$(REF)") $(ARGS)

server: $(STAMP) postgresql ## Start the team MLflow server on 127.0.0.1:SERVER_PORT (PostgreSQL, served artifacts)
	$(BIN)/python -m gmmgen.tracking.server start --dir $(SERVER_DIR) --port $(SERVER_PORT)

server-stop: $(STAMP) ## Stop the tracking server (its database and artifacts stay in SERVER_DIR)
	$(BIN)/python -m gmmgen.tracking.server stop --dir $(SERVER_DIR)

cluster: $(STAMP) slurm ## Start a one-node SLURM cluster (state, logs, accounting DB in CLUSTER_DIR) for LAUNCHER=slurm
	$(BIN)/python -m gmmgen.tracking.cluster start --dir $(CLUSTER_DIR) --port $(CLUSTER_PORT) --cpus $(CLUSTER_CPUS)

cluster-stop: $(STAMP) ## Stop it: cancel its jobs, stop its daemons, leave no process running
	$(BIN)/python -m gmmgen.tracking.cluster stop --dir $(CLUSTER_DIR)

push: $(STAMP) ## Upload `make run`'s outputs (and the tutorial's, once it ran) to the DVC remote (REMOTE=<name>)
	$(BIN)/dvc push $(if $(REMOTE),-r $(REMOTE)) dvc.yaml $(if $(wildcard outputs/tutorial/*/metrics.json),pipelines/tutorial/dvc.yaml)

pull: $(STAMP) ## Download them from the DVC remote (the tutorial's where it holds them; REMOTE=<name>)
	$(BIN)/dvc pull $(if $(REMOTE),-r $(REMOTE)) dvc.yaml
	@# The tutorial's outputs are there only if a colleague ran `make tutorial` and pushed: no error without them.
	$(BIN)/dvc pull --quiet --allow-missing $(if $(REMOTE),-r $(REMOTE)) pipelines/tutorial/dvc.yaml

test test-slow: SLURM_OPTIONAL = 1
test: $(STAMP) postgresql slurm ## Run the test suite (fast tests; a few minutes on 2 cores)
	$(BIN)/python -m pytest

test-slow: $(STAMP) postgresql slurm ## Run the slow tests too (end-to-end multiruns, browser check of the UI)
	$(BIN)/python -m pytest -m "slow or not slow"

mutate: $(STAMP) ## Mutation testing of the library modules (slow; ARGS='--modules core/data --sample 40'): score table
	nice -n 19 $(BIN)/python mutation/mutate.py $(ARGS)

bench: $(STAMP) ## Benchmarks: sweep speed-up, stage times and memory, fit-cost scaling (outputs/bench/)
	$(BIN)/python bench/bench.py $(ARGS)

bench-gpu: $(STAMP) ## numpy on every core vs the GPU path (torch on cuda when present), per N and K (ARGS='--tiny')
	$(BIN)/python bench/gpu.py --out outputs/bench/gpu.md $(ARGS)

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check src pipelines tests bench mutation
	$(BIN)/ruff format --check src pipelines tests bench mutation
	$(BIN)/python -m gmmgen.pipeline.dvcgen --check

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format src pipelines tests bench mutation
	$(BIN)/ruff check --fix src pipelines tests bench mutation

dvc-yaml: $(STAMP) ## Write each stage's cmd, code deps and params in dvc.yaml from the stage registry and imports
	$(BIN)/python -m gmmgen.pipeline.dvcgen

# Material for MkDocs prints a banner about MkDocs 2 and its own end of life on every build; this silences it.
MKDOCS = NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

docs: $(STAMP) ## Regenerate the configuration reference, then build the documentation into outputs/site (strict)
	$(BIN)/python -m gmmgen.report.config_reference docs/configuration.md
	$(MKDOCS) build --strict --quiet
	@echo "Documentation: outputs/site/index.html  |  make docs-serve"

docs-serve: $(STAMP) ## Serve the documentation on http://127.0.0.1:DOCS_PORT (default 8000), rebuilt on every edit
	$(BIN)/python -m gmmgen.report.config_reference docs/configuration.md
	$(MKDOCS) serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

dag: $(STAMP) ## Show the DVC stage graph
	$(BIN)/dvc dag

metrics: $(STAMP) ## Show the headline metrics and what changed against HEAD (metrics and params)
	$(BIN)/dvc metrics show
	$(BIN)/dvc metrics diff
	$(BIN)/dvc params diff

plots: $(STAMP) ## Render DVC plots to outputs/dvc_plots/index.html (offline: the chart library is in vendor/vega)
	$(BIN)/dvc plots show

lock: ## Re-resolve pyproject.toml's dependencies into requirements.lock (needs the package index)
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Exact versions of every package (transitive ones included) for Python 3.11."; \
	  echo "# Regenerate with \`make lock\` after changing pyproject.toml."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^gmmgen'; } > requirements.lock
	rm -rf .venv-lock

clean: ## Remove the stage outputs and logs; keeps .venv, the MLflow store and the caches (says so)
	@# The folders come from the file map, src/gmmgen/pipeline/files.py (standard library only: no .venv needed).
	set -o pipefail; PYTHONPATH=src $(PYTHON) -m gmmgen.pipeline.files clean | xargs rm -rf
	@echo "kept: outputs/mlflow.db + outputs/mlartifacts (MLflow runs; make clean-all), outputs/cache/datasets"
	@echo "      (downloads; make clean-cache), outputs/cache/classifier (trained judges), .dvc/cache, .venv"

clean-cache: ## Remove the download cache alone (outputs/cache/datasets): the next run downloads again
	rm -rf outputs/cache/datasets

clean-all: clean ## Also remove the MLflow store, every cache (downloads, classifiers, DVC's) and .venv
	rm -rf outputs/mlflow.db outputs/mlflow.db.lock outputs/mlartifacts outputs/cache .dvc/cache $(VENV)
