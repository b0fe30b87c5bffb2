# The README's commands. Each target creates the virtual environment if it is missing.
# On a CPU-only machine torch comes from TORCH_SPEC (a CPU wheel where one is on disk);
# GPU users may set TORCH_SPEC to the build that matches their CUDA.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
PROFILE ?= cpu
PYTEST_ARGS ?=
# Use the MedMNIST files beside the checkout when they are there (this project's machines);
# elsewhere evalib's own default applies ($EVALIB_DATA_ROOT, else ~/.medmnist).
ifneq ($(wildcard ../shared/data/*.npz),)
export EVALIB_DATA_ROOT ?= $(abspath ../shared/data)
endif

.PHONY: setup test book reproduce lint clean-book

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[book,dev,ray]"
	# medmnist only for the test that checks evalib's dataset table against its INFO;
	# --no-deps: its torchvision requirement would pull another torch build
	$(PY) -m pip install -q --no-deps "medmnist==3.0.2"
	touch $@

setup: $(VENV)/.installed

test: setup  ## run the test suite
	$(PY) -m pytest $(PYTEST_ARGS)

book: setup  ## build the book from the committed, executed notebooks
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "open _build/html/index.html"

reproduce: setup  ## execute every notebook at PROFILE with papermill, then build the book
	$(PY) -m evalib.reproduce --profile $(PROFILE)
	$(MAKE) book

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean-book:
	rm -rf _build
