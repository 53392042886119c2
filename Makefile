# The README's two commands: `make train` (main job) and `make test` (the tests).
# Both create or reuse $(VENV) and install what they need.
#
# torch: installed first, from $(TORCH) (the CPU wheel by default), and only if the venv
# has none, so a GPU user keeps their own build:
#   make test VENV=/path/to/env/with/cuda-torch     or     make test TORCH="torch==2.13.0 --index-url <cuda index>"
# Everything else is then installed under a constraint that pins the torch already there.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.c2s-installed
PIP := $(PY) -m pip install -q -c $(VENV)/torch-constraint.txt

.PHONY: setup train test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH)
	@$(PY) -c "import torch; print(f'torch=={torch.__version__}')" > $(VENV)/torch-constraint.txt
	$(PIP) -e ".[dev]"
	@touch $@

setup: $(STAMP)

train: $(STAMP)
	$(PY) train.py
	$(PY) evaluate.py ckpt=outputs/runs/main/sft/hf

test: $(STAMP)
	$(PY) -m pytest

# ruff (pyproject.toml) and the import contracts (.importlinter); tests/test_architecture.py runs them too
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)  # full sizes; `make test` runs each at --smoke size (tests/test_benchmarks.py)
	$(PIP) -e ".[dev,bench]"
	$(PY) benchmarks/cell_sentences.py
	$(PY) benchmarks/tokens_and_packing.py
	$(PY) benchmarks/prepare_scale.py --cells 100k
	$(PY) benchmarks/prepare_workers.py --cells 200k
	$(PY) benchmarks/train_loop.py
	$(PY) benchmarks/vs_hf_trainer.py
	$(PY) benchmarks/grpo_vs_trl.py

clean:
	rm -rf $(VENV) outputs
