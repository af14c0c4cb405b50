# archbench: `make demo` runs a real search on the embedded mnist5k digits; `make test` runs the tests.
# Both run in a virtual environment: the active one (venv or conda), else the project's .venv,
# made on first use from BASE_PYTHON. A system Python that refuses pip installs (PEP 668, as on
# Debian 12 and Ubuntu 24.04), pyenv and conda then all work alike. The .venv sees the base
# Python's packages, so a torch already installed there is reused, not installed again.
BASE_PYTHON ?= python3
ifneq ($(VIRTUAL_ENV)$(CONDA_PREFIX),)
PYTHON ?= python
else
VENV := .venv
PYTHON := $(VENV)/bin/python
endif
PIP := $(PYTHON) -m pip
ARCHBENCH := $(PYTHON) -m archbench
# torch and torchvision must match exactly (torchvision.ops registers compiled ops); this pair is
# served from the local disk on our machines. Other machines fall back to any matching release.
TORCH_PAIR := torch==2.14.1 torchvision==0.29.1

.PHONY: install postgres-server demo test lint bench gpu-check gpu-wheels

install: $(if $(VENV),$(VENV)/bin/python)
	@$(PYTHON) -c "import torch, torchvision" 2>/dev/null || $(PIP) install -q $(TORCH_PAIR) \
		|| $(PIP) install -q "torch>=2.4" torchvision
	@$(PIP) install -q -e ".[dev,ray,fvcore,postgres]"

$(VENV)/bin/python:
	@$(BASE_PYTHON) -m venv --system-site-packages $(VENV) || { rm -rf $(VENV); echo "cannot \
	create $(VENV) with $(BASE_PYTHON): install its venv module (Debian: apt-get install \
	python3-venv) or activate a virtual environment"; exit 1; }

# The tests start their own PostgreSQL server; install Debian's package where it is missing
# (best effort: without apt or root the PostgreSQL tests skip and say why).
postgres-server:
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| { command -v apt-get >/dev/null 2>&1 && apt-get update -qq >/dev/null \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
		|| echo "PostgreSQL not installed (no apt-get or no root): its tests will be skipped"

# A real search: the resnet space under a 5M cap, proxy-trained on mnist5k (embedded, no download).
# The FLOPs cap keeps each CPU trial to seconds; about 2.5 minutes on 2 idle CPU cores.
demo: install
	$(ARCHBENCH) search --space resnet --max-params 5M --max-flops 150M --trials 10 --epochs 2 \
		--subset 0.5 --dataset mnist5k --storage sqlite:///results/demo.db --study demo --seed 0 \
		--memory rtx3060 --fresh
	$(ARCHBENCH) results --storage sqlite:///results/demo.db --study demo --top 5

# Two pytest workers (pytest-xdist): most tests wait on a child interpreter or a storage, so two
# fill a 2-core machine. The Ray tests share one worker (tests/conftest.py), one runtime at a time.
TEST_WORKERS ?= 2
test: install postgres-server
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

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
	$(PYTHON) benchmarks/isolation_overhead.py
	$(PYTHON) benchmarks/worker_threads.py
	$(PYTHON) benchmarks/zerocost.py

# The one-shot check of the CUDA paths on a GPU machine (about 11 minutes; docs/gpu_check.md).
# No install step: those machines have torch but no package registry. Exits 2 without CUDA;
# `python scripts/gpu_check.py --rehearse` runs every step on the CPU instead.
gpu-check:
	$(BASE_PYTHON) scripts/gpu_check.py

# Wheels the GPU machines lack (CPython 3.12, x86_64 Linux): archbench[dev]'s installed dependency
# tree at the versions installed here, into a clean .whl/ with its list in .whl/requirements.txt.
gpu-wheels: install
	rm -rf .whl && mkdir -p .whl
	$(PYTHON) scripts/gpu_check.py --list-wheels > .whl/requirements.txt
	$(PIP) download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--abi cp312 --abi abi3 --abi none --platform manylinux2014_x86_64 \
		--platform manylinux_2_28_x86_64 -d .whl -r .whl/requirements.txt
	$(PYTHON) scripts/gpu_check.py --dry-run
