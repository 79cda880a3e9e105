# Two commands matter: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: help venv install demo test lint typecheck pytest docs bench dist matrix compat clean

help:
	@echo "make demo   - start OpenBao, run the example site, rotate twice, prove the session survives"
	@echo "make test   - ruff, mypy --strict, the whole pytest suite and the docs build"
	@echo "make bench  - run benchmarks/ and rewrite docs/benchmarks.md"
	@echo "make dist   - build and check the sdist and wheel"
	@echo "make matrix - the full Python x Django matrix (nox)"
	@echo "make compat - one cell of it (Python 3.10 + Django 4.2), also run by make test;"
	@echo "              skipped with a message when no python3.10 interpreter is found"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ".[all]" --group dev
	@touch $(STAMP)

# `make demo` needs only the vault and django extras and the demo group (OpenBao, gunicorn): a
# first run installs that much, not the whole development toolchain. A full install covers it.
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	@if [ $(STAMP) -nt pyproject.toml ]; then :; else \
		$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1" && \
		$(BIN)/python -m pip install --quiet -e ".[vault,django]" --group demo; \
	fi
	@touch $(DEMO_STAMP)

venv install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict src tests/typing

# In parallel (pytest-xdist): most tests wait on a server or a subprocess, so two workers on two
# cores halve the run. Work stealing evens out the few long tests (the gunicorn fleets).
XDIST := -n auto --maxprocesses=4 --dist worksteal

pytest: $(STAMP)
	$(BIN)/python -m pytest $(XDIST)

# Material prints a banner about a future MkDocs major version on every build; it is not ours.
docs: $(STAMP)
	@if [ -f mkdocs.yml ]; then NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site; fi

test: lint typecheck pytest docs compat

demo: $(DEMO_STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# The sdist first, then the wheel built from that sdist, as a package index's users get them.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# Nox venvs are kept in .nox and reused; every run still reinstalls the project and pins.
NOX := $(BIN)/nox --reuse-venv=yes
# The cell make test keeps: the oldest supported Python with the oldest supported Django.
COMPAT_CELL := tests(python='3.10', django='4.2')

matrix: $(STAMP)
	$(NOX)

# The compat cell runs what can differ between Python and Django versions: the library's own
# code (tests/unit) and its Django integration (tests/django), plus one smoke module per backend
# against a real server. The main cell runs everything, the slow tests included.
COMPAT_ARGS := $(XDIST) -m "not slow" tests/unit tests/django \
	tests/integration/test_vault_kv.py tests/integration/test_aws_provider.py

# A machine without a Python 3.10 interpreter skips the cell, saying so; `make matrix` does not.
compat: $(STAMP)
	@if $(BIN)/python -c 'import sys, noxfile; sys.exit(not noxfile.interpreter_available("3.10"))'; then \
		$(NOX) --session "$(COMPAT_CELL)" -- $(COMPAT_ARGS); \
	else \
		echo "make compat: SKIPPED the Python 3.10 + Django 4.2 cell: no python3.10 interpreter found"; \
		echo "  (install Python 3.10 on PATH or with pyenv to run it; every other target needs only Python 3.10+)"; \
	fi

clean:
	rm -rf $(VENV) dist build site .mypy_cache .ruff_cache .pytest_cache .nox
