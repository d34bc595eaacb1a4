# watertight — every target sets itself up: only python3 and make are assumed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: demo test test-all test-dr lint fmt bench clean venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,k8s]'
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

## demo: the main job — bring up the three sites locally, run the drill, print the report
demo: $(STAMP)
	$(BIN)/watertight demo

## test: the default suite (unit + integration + chart/Pulumi checks); CI adds slow suites
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-all: everything, including suites marked slow
test-all: $(STAMP)
	WATERTIGHT_RUN_SLOW=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

## test-dr: the whole DR suite, every library drill (CI runs six, docs/drills.md §7)
test-dr: $(STAMP)
	WATERTIGHT_RUN_SLOW=1 WATERTIGHT_DR_FULL=1 $(BIN)/python -m pytest tests/drills $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/unit_writes.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
