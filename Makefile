# archbench: `make demo` runs a real search on the embedded mnist5k digits; `make test` runs the tests.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# torch and torchvision must match exactly (torchvision.ops registers compiled ops); this pair is
# served from the local disk on our machines. Other machines fall back to any matching release.
TORCH_PAIR := torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test lint bench

install:
	@$(PYTHON) -c "import torch, torchvision" 2>/dev/null || $(PIP) install -q $(TORCH_PAIR) \
		|| $(PIP) install -q "torch>=2.4" torchvision
	@$(PIP) install -q -e ".[dev,ray,fvcore]"

# A real search: the resnet space under a 5M cap, proxy-trained on mnist5k (embedded, no download).
# The FLOPs cap keeps each CPU trial to seconds; about 2.5 minutes on 2 idle CPU cores.
demo: install
	archbench search --space resnet --max-params 5M --max-flops 150M --trials 10 --epochs 2 \
		--subset 0.5 --dataset mnist5k --storage sqlite:///results/demo.db --study demo --seed 0 \
		--memory rtx3060 --fresh
	archbench results --storage sqlite:///results/demo.db --study demo --top 5

test: install
	$(PYTHON) -m pytest -q

lint: install
	$(PYTHON) -m ruff check archbench tests benchmarks
	$(PYTHON) -m mypy archbench

bench: install
	$(PYTHON) benchmarks/count_params.py
	$(PYTHON) benchmarks/loader.py
	$(PYTHON) benchmarks/train_step.py
	$(PYTHON) benchmarks/search_overhead.py
	$(PYTHON) benchmarks/profile_prediction.py
	$(PYTHON) benchmarks/profile_cost.py
	$(PYTHON) benchmarks/zerocost.py
