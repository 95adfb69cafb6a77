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

.PHONY: venv report demo test lint format bench bench-readme clean

# the report and the explorer (extras [report] and [notebook]); tests add every extra
$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[report,notebook]'
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $(TEST_STAMP)

venv: $(STAMP)

# the demo month is written once (and again when the generator changes): rewriting it would give
# its files new modification times, and the report would validate them again instead of reading
# the validated store
$(DEMO)/labels.json: $(STAMP) usagekit/demo.py
	$(BIN)/usagekit demo-data --month $(MONTH) --out $(DEMO)

demo: $(DEMO)/labels.json

report: demo
	$(BIN)/usagekit report --month $(MONTH) --source $(DEMO) --out reports

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/cube.py

# the README's 10M and 100M benchmark tables, rewritten from fresh runs (100M takes about an hour)
bench-readme: $(TEST_STAMP)
	$(BIN)/python benchmarks/cube.py --repeat 1 --store $(CURDIR)/benchmarks/.store-10m --readme README.md
	$(BIN)/python benchmarks/cube.py --requests 100000000 --repeat 1 --store $(CURDIR)/benchmarks/.store-100m --readme README.md

clean:
	rm -rf $(VENV) demo .pytest_cache build dist *.egg-info
