# The two set-up commands of the README: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

.PHONY: install demo test lint bench
install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/accord demo

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: $(BIN)/.installed
	./scripts/test-deps.sh
	# byte-compile Accord once: with PYTHONDONTWRITEBYTECODE set (as on some CI machines) every
	# `python -m accord.cli` the tests start would compile it again (~0.25 s of CPU each)
	$(BIN)/python -m compileall -q src
	$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: $(BIN)/.installed
	$(BIN)/ruff check --no-cache src tests bench
	$(BIN)/mypy

# all sections, one table, bench/results.json (BENCH_ARGS=--quick for a smoke run; see bench/run.py)
bench: $(BIN)/.installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)
