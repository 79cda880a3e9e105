# Two commands matter: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv install demo test lint typecheck pytest docs bench dist matrix clean

help:
	@echo "make demo   - start OpenBao, run the example site, rotate twice, prove the session survives"
	@echo "make test   - ruff, mypy --strict, the whole pytest suite and the docs build"
	@echo "make bench  - run benchmarks/ and rewrite docs/benchmarks.md"
	@echo "make dist   - build and check the sdist and wheel"
	@echo "make matrix - the full Python x Django matrix (nox)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ".[all]" --group dev
	@touch $(STAMP)

venv install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict src tests/typing

pytest: $(STAMP)
	$(BIN)/python -m pytest

docs: $(STAMP)
	@if [ -f mkdocs.yml ]; then $(BIN)/mkdocs build --strict --quiet --site-dir site; fi

test: lint typecheck pytest docs

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

matrix: $(STAMP)
	$(BIN)/nox

clean:
	rm -rf $(VENV) dist build site .mypy_cache .ruff_cache .pytest_cache .nox
