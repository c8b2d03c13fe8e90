# krbot: `make demo` shows a quarter in the terminal; `make test` runs the suite but for the tests that install from the
# package index, which `make test-network` runs.
PYTHON ?= python3
WORKERS ?= auto
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test test-network lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/krbot demo $(if $(LANG_),--lang $(LANG_),)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(WORKERS) -m "not network" $(PYTEST_ARGS)

test-network: $(VENV)/.installed-dev  # in one process: the wheel and its fresh venv are built once, not per worker
	$(BIN)/python -m pytest -m network $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python bench/digest.py

clean:
	rm -rf $(VENV) build dist *.egg-info
