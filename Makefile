# Two commands on a fresh machine with python3 and make:
#   make report   build the environment, generate the demo month and publish its report
#   make test     build the environment and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.test-installed-stamp
MONTH  ?= 2026-10
DEMO   ?= demo/$(MONTH)

.PHONY: venv report demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	touch $(TEST_STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/usagekit demo-data --month $(MONTH) --out $(DEMO)

report: demo
	$(BIN)/usagekit report --month $(MONTH) --source $(DEMO) --out reports

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/cube.py

clean:
	rm -rf $(VENV) demo .pytest_cache
