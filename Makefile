# The README's commands. Each target creates the virtual environment if it is missing;
# `make help` lists them, and every variable below with its default (from its `##` line).
## PYTHON: the Python that creates the virtual environment
PYTHON ?= python3
## VENV: the virtual environment's folder
VENV ?= .venv
PY := $(VENV)/bin/python
# torch: which version (TORCH_SPEC) and which build (TORCH_VARIANT), see scripts/torch_index.py:
#   auto (default)        the CPU build, or the CUDA build that the NVIDIA driver supports
#   cpu                   the CPU build from download.pytorch.org (no CUDA libraries)
#   cu126 | cu130 | cu132 that CUDA build (driver >= 525 for cu126, >= 580 for cu13x)
#   pypi                  PyPI's default build (CUDA 13.0 on Linux x86-64)
# TORCH_INDEX=URL replaces the index. Changing any of the three reinstalls torch. The index
# is probed once first: where download.pytorch.org cannot be reached, the default index is
# used (PyPI or your pip configuration) instead of waiting through pip's retries.
## TORCH_SPEC: the tested torch (pyproject.toml allows the same minor series)
TORCH_SPEC ?= torch==2.13.0
## TORCH_VARIANT: auto, cpu, cu126, cu130, cu132 or pypi (see scripts/torch_index.py)
TORCH_VARIANT ?= auto
## TORCH_INDEX: a pip index (mirror) for torch instead of download.pytorch.org
TORCH_INDEX ?=
## PROFILE: scale of `make reproduce`: smoke, cpu or paper
PROFILE ?= cpu
## DATASETS: MedMNIST flags for `make reproduce` (empty: the book's)
DATASETS ?=
## NOTEBOOKS: notebooks for `make reproduce`, e.g. 02_benchmark (empty: all)
NOTEBOOKS ?=
## IN_PLACE: 1 replaces the book's pages even at another PROFILE than theirs
IN_PLACE ?= 0
## PYTEST_ARGS: arguments of `make test`, e.g. -k cli
PYTEST_ARGS ?=
# Use the MedMNIST files beside the checkout when they are there (this project's machines);
# elsewhere evalib's own default applies ($EVALIB_DATA_ROOT, else ~/.medmnist).
ifneq ($(wildcard ../shared/data/*.npz),)
export EVALIB_DATA_ROOT ?= $(abspath ../shared/data)
endif

# one stamp per (spec, variant, index): a new value finds no stamp and reinstalls torch
TORCH_KEY := $(shell printf '%s|%s|%s' '$(TORCH_SPEC)' '$(TORCH_VARIANT)' '$(TORCH_INDEX)' | cksum | cut -d ' ' -f 1)
TORCH_STAMP := $(VENV)/.torch-$(TORCH_KEY)

.DEFAULT_GOAL := help
.PHONY: help setup torch-info test book reproduce lint clean clean-book

help:  ## list the targets and the variables they take, with their defaults
	@echo "make TARGET [VARIABLE=value ...]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "variables (default):"
	@awk '/^## [A-Z_]+: / {doc = substr($$0, index($$0, ": ") + 2)} \
	  /^[A-Z_]+ \?=/ {v = $$0; sub(/^[A-Z_]+ \?= ?/, "", v); \
	  printf "  %-14s %s (default: %s)\n", $$1, doc, (v == "" ? "empty" : v)}' $(MAKEFILE_LIST)

$(TORCH_STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	rm -f $(VENV)/.torch-* $(VENV)/.installed
	args="$$($(PY) scripts/torch_index.py '$(TORCH_VARIANT)' '$(TORCH_INDEX)')" && \
	  $(PY) -m pip install -q --force-reinstall --no-deps $$args "$(TORCH_SPEC)"
	# torch's own dependencies, from the default index
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	touch $@

$(VENV)/.installed: $(TORCH_STAMP) pyproject.toml Makefile
	$(PY) -m pip install -q -e ".[book,dev,ray]"
	# medmnist only for the test that checks evalib's dataset table against its INFO;
	# --no-deps: its torchvision requirement would pull another torch build
	$(PY) -m pip install -q --no-deps "medmnist==3.0.2"
	touch $@

setup: $(VENV)/.installed  ## create .venv: torch (TORCH_VARIANT), evalib and its extras

torch-info: setup  ## which torch is installed and whether it sees a GPU
	$(PY) -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda, '| GPU available:', torch.cuda.is_available())"

test: setup  ## run the test suite (PYTEST_ARGS)
	$(PY) -m pytest $(PYTEST_ARGS)

book: setup  ## build the book from the committed, executed notebooks
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "open _build/html/index.html"

reproduce: setup  ## execute the notebooks at PROFILE (pages of another profile go to build/reproduce/), then build the book
	$(PY) -m evalib.book.reproduce --profile $(PROFILE) $(if $(strip $(DATASETS)),--dataset $(DATASETS)) $(if $(strip $(NOTEBOOKS)),--only $(NOTEBOOKS)) $(if $(filter 1 yes true,$(IN_PLACE)),--in-place)
	$(MAKE) book

lint: setup  ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:  ## remove build outputs (build/reproduce too) and caches (never results/, data, notebooks or .venv)
	rm -rf _build build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -path ./.git -prune -o -path './$(VENV)' -prune -o \
	  \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +

clean-book:  ## remove the built book only
	rm -rf _build
