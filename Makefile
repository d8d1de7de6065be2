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
# Make echoes each recipe line, ARGS included, before running it: the lines that take ARGS are silent and
# $(call echo_args,<command>) prints them with any password or token in ARGS masked (gmmgen.redact).
export GMMGEN_ARGS = $(ARGS)
echo_args = @$(BIN)/python -m gmmgen.redact '$(1)'

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
N ?= 10
SWEEP ?= pca.variance=0.8,0.85,0.9 sweep.covariance_types=[full],[diag]
SERVER_DIR ?= outputs/server
SERVER_PORT ?= 5050
CLUSTER_DIR ?= outputs/cluster
# Test processes (pytest-xdist), each taking whole test files: the end-to-end files wait on subprocesses much
# of the time, so two workers share two cores well; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
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
.PHONY: help install install-gpu postgresql slurm chromium cluster cluster-stop params run exp exps compare findings sweep stability ui serve promote gate server server-stop push pull test test-slow mutate bench bench-gpu bench-load lint format dvc-yaml docs docs-serve dag metrics plots lock clean clean-cache clean-all

help: ## List the targets
	@echo "gmmgen: Gaussian mixture models on PCA-whitened MNIST (Hydra + DVC + MLflow)"
	@echo
	@# One line a target, its description wrapped at 100 columns under itself.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "} { \
	  n = split($$2, w, " "); line = ""; first = 1; \
	  for (i = 1; i <= n; i++) { \
	    if (line != "" && length(line) + 1 + length(w[i]) > 79) { \
	      printf (first ? "  make %-14s%s\n" : "  %-19s%s\n"), (first ? $$1 : ""), line; first = 0; line = w[i] } \
	    else line = (line == "" ? w[i] : line " " w[i]) } \
	  printf (first ? "  make %-14s%s\n" : "  %-19s%s\n"), (first ? $$1 : ""), line }'
	@echo
	@echo "  Variables (the targets that read them):"
	@echo "    ARGS='<hydra overrides>' (run, params, tutorial; exp: dvc exp run's), WAIT=1 (run, tutorial)"
	@echo "    SWEEP='<multirun overrides>' LAUNCHER=parallel|slurm (sweep), PORT=5000 (ui)"
	@echo "    SERVE_PORT=5001 MODEL=gmmgen-digit-generator ALIAS=champion or VERSION=<n> (serve)"
	@echo "    VERSION=<n> REASON='<why>' ALIAS=champion (promote), REF=main|champion (gate)"
	@echo "    SERVER_PORT=5050 SERVER_DIR=outputs/server (server), REMOTE=<dvc remote> (push, pull)"
	@echo "    CLUSTER_DIR=outputs/cluster CLUSTER_PORT=0 (free ports) CLUSTER_CPUS=0 (all cores) (cluster)"
	@echo "    DOCS_PORT=8000 (docs-serve), N=10 (stability: seeds)"

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required; set PYTHON=...)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install the locked packages (if missing or the lock changed)

postgresql: ## Install PostgreSQL (Debian's package, as root) when it is missing
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing PostgreSQL: apt-get install postgresql"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "error: PostgreSQL is missing: install it (sudo apt-get install postgresql)"; exit 1; fi; }

chromium: ## Install Chromium (Debian's package, as root) for the browser tests of the UI and make plots' page
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Chromium: apt-get install chromium"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "error: Chromium is missing: install it (sudo apt-get install chromium)"; exit 1; fi; }

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

install-gpu: $(STAMP) ## Add the GPU extra to .venv (torch, CuPy, CUDA 13) from requirements-gpu.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-gpu.lock
	@echo "GPU extra installed: make run ARGS='compute.namespace=torch compute.device=cuda'"

params: $(STAMP) ## Compose and check the config (ARGS overrides) into params.yaml; check tracking
	$(call echo_args,$(BIN)/python pipelines/configure.py)
	@$(BIN)/python pipelines/configure.py $(ARGS)

run: $(STAMP) ## Reproduce the experiment: params.yaml, then `dvc repro` (WAIT=1: wait in line)
	@# Under the lock: the config, then the git state and start time (recorded before the stages rewrite
	@# dvc.lock; the track stage reads them), then the stages.
	@set -o pipefail; PYTHONUNBUFFERED=1 $(BIN)/python -m gmmgen.runtime.runlock $(if $(filter 1,$(WAIT)),--wait) -- \
		$(BIN)/python pipelines/configure.py $(ARGS) -- $(BIN)/python -m gmmgen.tracking.runinfo start -- $(BIN)/dvc repro \
		$(DROP_PUSH_HINT); rc=$$?; rm -f outputs/run_start.json; exit $$rc
	@echo
	@$(BIN)/python -m gmmgen.report.summary outputs
	@echo "Results: results/metrics.json (headline, tracked by git), outputs/<stage>/  |  make compare  |  make ui  |  make push"

exp: $(STAMP) ## DVC experiment (ARGS='-S pca.variance=0.9'); a failed one puts every file back
	@# The start record (kind exp) makes the MLflow run span the whole pipeline; an experiment never moves @champion.
	@keep=$$(mktemp -d); cp params.yaml dvc.lock $$keep/; cp results/metrics.json $$keep/ 2>/dev/null; \
	$(BIN)/python -m gmmgen.tracking.runinfo start --exp >/dev/null; \
	if $(BIN)/dvc exp run $(ARGS); then rm -rf $$keep outputs/run_start.json; else rc=$$?; rm -f outputs/run_start.json; \
		cp $$keep/params.yaml $$keep/dvc.lock .; cp $$keep/metrics.json results/ 2>/dev/null; rm -rf $$keep; \
		$(BIN)/dvc checkout --quiet; echo "exp failed (exit $$rc): params.yaml, dvc.lock, results/ and outputs/ are as they were"; exit $$rc; fi

exps: $(STAMP) ## DVC's experiments table in 120 columns: headline metrics, changed params
	@$(BIN)/python -m gmmgen.report.compare --exp-show $(ARGS)

compare: $(STAMP) ## Headline metrics and changed params of the workspace, main and each experiment
	@$(BIN)/python -m gmmgen.report.compare

findings: $(STAMP) ## Rewrite the findings tables of docs/results.md from the last `make run`
	$(BIN)/python pipelines/findings.py

tutorial: $(STAMP) ## The tutorial's sections into outputs/tutorial/ (ARGS='em.n_steps=40')
	@# Its own params file (pipelines/tutorial/params.yaml), then its own stages, under the run lock;
	@# the pipeline's params.yaml, and any experiment applied to it, is never written.
	@set -o pipefail; PYTHONUNBUFFERED=1 $(BIN)/python -m gmmgen.runtime.runlock $(if $(filter 1,$(WAIT)),--wait) -- \
		$(BIN)/python pipelines/tutorial/configure.py $(ARGS) -- $(BIN)/dvc repro pipelines/tutorial/dvc.yaml \
		$(DROP_PUSH_HINT)
	@echo; echo "Figures (outputs/tutorial/; the sections explained in docs/tutorial.md):"
	@cd outputs/tutorial && find . -name '*.png' | sed 's|^\./|  |' | sort

# LAUNCHER=slurm with a running `make cluster` (and no SLURM_CONF of your own) submits to that cluster.
CLUSTER_CONF = $(if $(and $(filter slurm,$(LAUNCHER)),$(if $(SLURM_CONF),,$(wildcard $(CLUSTER_DIR)/state.json))),SLURM_CONF=$(abspath $(CLUSTER_DIR))/slurm.conf)
sweep: $(STAMP) ## Hydra multirun of the whole pipeline over the SWEEP grid, jobs in parallel
	$(call echo_args,$(strip $(CLUSTER_CONF) $(BIN)/python pipelines/run_all.py -m hydra/launcher=$(LAUNCHER) $(SWEEP)))
	@$(CLUSTER_CONF) $(BIN)/python pipelines/run_all.py -m hydra/launcher=$(LAUNCHER) $(SWEEP) $(ARGS)

stability: $(STAMP) ## The selection sweep under N seeds (N=10; ARGS='<overrides>'): how each criterion's K varies
	$(call echo_args,$(BIN)/python pipelines/stability.py --seeds $(N))
	@$(BIN)/python pipelines/stability.py --seeds $(N) $(ARGS)

ui: $(STAMP) ## MLflow UI for outputs/mlflow.db on http://127.0.0.1:PORT (default 5000)
	@$(BIN)/python -m gmmgen.report.summary --ui $(PORT) outputs
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/outputs/mlflow.db \
		--default-artifact-root $(CURDIR)/outputs/mlartifacts --host 127.0.0.1 --port $(PORT)

serve: $(STAMP) ## Serve the @champion digit generator on http://127.0.0.1:SERVE_PORT (bounded)
	$(call echo_args,$(BIN)/python -m gmmgen.tracking.serving --model-uri models:/$(MODEL)$(if $(VERSION),/$(VERSION),@$(ALIAS)) --host 127.0.0.1 --port $(SERVE_PORT))
	@MLFLOW_TRACKING_URI=sqlite:///$(CURDIR)/outputs/mlflow.db $(BIN)/python -m gmmgen.tracking.serving \
		--model-uri models:/$(MODEL)$(if $(VERSION),/$(VERSION),@$(ALIAS)) --host 127.0.0.1 --port $(SERVE_PORT) $(ARGS)

bench-load: $(STAMP) ## The served model under a concurrent mix of valid and hostile requests (loopback; ARGS='--requests 600')
	$(call echo_args,$(BIN)/python bench/load.py --out outputs/bench/load.md)
	@$(BIN)/python bench/load.py --out outputs/bench/load.md $(ARGS)

promote: $(STAMP) ## Move @champion to model VERSION=<n> by hand, recording who and why (REASON=...)
	@$(BIN)/python pipelines/promote.py --version "$(VERSION)" --reason "$$GMMGEN_REASON" --alias "$(ALIAS)" $(ARGS)

gate: $(STAMP) ## CI gate: results/metrics.json vs main's; fails past conf/gate.yaml's tolerances
	@$(BIN)/python -m gmmgen.tracking.gate $(if $(REF),--reference "$(REF)") $(ARGS)

server: $(STAMP) postgresql ## Start the team MLflow server (PostgreSQL, served artifacts) on SERVER_PORT
	$(BIN)/python -m gmmgen.tracking.server start --dir $(SERVER_DIR) --port $(SERVER_PORT)

server-stop: $(STAMP) ## Stop the tracking server (its database and artifacts stay in SERVER_DIR)
	$(BIN)/python -m gmmgen.tracking.server stop --dir $(SERVER_DIR)

cluster: $(STAMP) slurm ## Start a one-node SLURM cluster in CLUSTER_DIR (for make sweep LAUNCHER=slurm)
	$(BIN)/python -m gmmgen.tracking.cluster start --dir $(CLUSTER_DIR) --port $(CLUSTER_PORT) --cpus $(CLUSTER_CPUS)

cluster-stop: $(STAMP) ## Stop it: cancel its jobs, stop its daemons, leave no process running
	$(BIN)/python -m gmmgen.tracking.cluster stop --dir $(CLUSTER_DIR)

push: $(STAMP) ## Upload `make run`'s outputs (and the tutorial's, once it ran) to the DVC remote
	$(BIN)/dvc push $(if $(REMOTE),-r $(REMOTE)) dvc.yaml $(if $(wildcard outputs/tutorial/*/metrics.json),pipelines/tutorial/dvc.yaml)

pull: $(STAMP) ## Download them from the DVC remote (the tutorial's where it holds them)
	$(BIN)/dvc pull $(if $(REMOTE),-r $(REMOTE)) dvc.yaml
	@# The tutorial's outputs are there only if a colleague ran `make tutorial` and pushed: no error without them.
	$(BIN)/dvc pull --quiet --allow-missing $(if $(REMOTE),-r $(REMOTE)) pipelines/tutorial/dvc.yaml

test test-slow: SLURM_OPTIONAL = 1
test: $(STAMP) postgresql slurm ## Run the test suite (fast tests; a few minutes on 2 cores; TEST_WORKERS=0: one process)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test-slow: $(STAMP) postgresql slurm chromium ## Run the slow tests too (end-to-end multiruns, browser check of the UI)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "slow or not slow"

mutate: $(STAMP) ## Mutation testing of the library modules (slow; ARGS='--modules core/data')
	$(call echo_args,nice -n 19 $(BIN)/python mutation/mutate.py)
	@nice -n 19 $(BIN)/python mutation/mutate.py $(ARGS)

bench: $(STAMP) ## Benchmarks: sweep speed-up, stage times and memory, fit cost (outputs/bench/)
	$(call echo_args,$(BIN)/python bench/bench.py)
	@$(BIN)/python bench/bench.py $(ARGS)

bench-gpu: $(STAMP) ## numpy on all cores vs the GPU path (torch on cuda), per N and K (ARGS='--tiny')
	$(call echo_args,$(BIN)/python bench/gpu.py --out outputs/bench/gpu.md)
	@$(BIN)/python bench/gpu.py --out outputs/bench/gpu.md $(ARGS)

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check src pipelines tests bench mutation
	$(BIN)/ruff format --check src pipelines tests bench mutation
	$(BIN)/python -m gmmgen.pipeline.dvcgen --check

format: $(STAMP) ## Format the code with ruff
	$(BIN)/ruff format src pipelines tests bench mutation
	$(BIN)/ruff check --fix src pipelines tests bench mutation

dvc-yaml: $(STAMP) ## Write each stage's cmd, code deps and params in dvc.yaml (registry, imports)
	$(BIN)/python -m gmmgen.pipeline.dvcgen

# Material for MkDocs prints a banner about MkDocs 2 and its own end of life on every build; this silences it.
MKDOCS = NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

docs: $(STAMP) ## Regenerate the config references, build the documentation into outputs/site
	$(BIN)/python -m gmmgen.report.config_reference docs/configuration.md
	$(BIN)/python pipelines/tutorial/reference.py docs/tutorial-configuration.md
	$(MKDOCS) build --strict --quiet
	@echo "Documentation: outputs/site/index.html  |  make docs-serve"

docs-serve: $(STAMP) ## Serve the documentation on http://127.0.0.1:DOCS_PORT, rebuilt on every edit
	$(BIN)/python -m gmmgen.report.config_reference docs/configuration.md
	$(BIN)/python pipelines/tutorial/reference.py docs/tutorial-configuration.md
	$(MKDOCS) serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

dag: $(STAMP) ## Show the DVC stage graph
	$(BIN)/dvc dag

metrics: $(STAMP) ## Show the headline metrics and what changed against HEAD (metrics and params)
	$(BIN)/dvc metrics show
	$(BIN)/dvc metrics diff
	$(BIN)/dvc params diff

plots: $(STAMP) ## Render the plots whose files exist to outputs/dvc_plots/index.html (offline)
	@$(BIN)/python -m gmmgen.report.plots_page $(BIN)/dvc

lock: ## Re-resolve pyproject.toml's dependencies into requirements.lock
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet -e '.[dev]'
	{ echo "# Exact versions of every package (transitive ones included) for Python 3.11."; \
	  echo "# Regenerate with \`make lock\` after changing pyproject.toml."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable | grep -v '^gmmgen'; } > requirements.lock
	rm -rf .venv-lock

clean: ## Remove the stage outputs and logs; keep .venv, the MLflow store and the caches
	@# The folders come from the file map, src/gmmgen/pipeline/files.py (standard library only: no .venv needed).
	set -o pipefail; PYTHONPATH=src $(PYTHON) -m gmmgen.pipeline.files clean | xargs rm -rf
	@echo "kept: outputs/mlflow.db + outputs/mlartifacts (MLflow runs; make clean-all), outputs/cache/datasets"
	@echo "      (downloads; make clean-cache), outputs/cache/classifier (trained judges), .dvc/cache, .venv"

clean-cache: ## Remove the download cache (outputs/cache/datasets): the next run downloads
	rm -rf outputs/cache/datasets

clean-all: clean ## Also remove the MLflow store, every cache (downloads, judges, DVC's) and .venv
	rm -rf outputs/mlflow.db outputs/mlflow.db.lock outputs/mlartifacts outputs/cache .dvc/cache $(VENV)
