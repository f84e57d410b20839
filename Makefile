# Two commands for a new user (as root on Debian): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX := $(BIN)/python tools/asterisk_sandbox.py

.PHONY: all system-deps venv asterisk demo test unit lint bench mutation clean

all: test

system-deps:
	sh tools/system-deps.sh

$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(STAMP)

asterisk: venv
	$(SANDBOX) install

demo: venv asterisk
	$(BIN)/python tools/demo.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The fast tests: no root, no Asterisk, no sshd; branch coverage of gatekeeper/ reported.
# Unit tests marked slow (a million ids) run in `make test` only.
unit: venv
	$(BIN)/coverage run --branch --source=gatekeeper -m pytest -q -m "not slow" tests/unit
	$(BIN)/coverage report --skip-covered --sort=cover

# Lint first: a layer broken or a file unformatted fails before Asterisk is built.
test: lint unit asterisk
	$(BIN)/pytest

bench: venv
	$(BIN)/python bench/run.py

# Mutation testing (not part of `make test`): mutmut mutates the modules listed in pyproject.toml
# [tool.mutmut] only_mutate, runs tests/unit against each mutant from a fresh copy in mutants/,
# then the score of each module is printed. One test process at a time: the machine is shared.
MUTATION_CHILDREN ?= 2

mutation: venv
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN)
	$(BIN)/python tools/mutation_report.py --survivors

clean:
	rm -rf $(VENV) .run .mypy_cache .ruff_cache .pytest_cache .coverage .import_linter_cache mutants
