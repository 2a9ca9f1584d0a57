# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv and install the project (pinned by constraints.txt) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DAGSTER_DISABLE_TELEMETRY := true

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

.PHONY: install demo test test-slow test-all ui ui-screenshot benchmark
install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/vardval demo

test: $(BIN)/.installed
	$(BIN)/pytest -q -m "not slow"

test-slow: $(BIN)/.installed
	$(BIN)/pytest -q -m slow

test-all: $(BIN)/.installed
	$(BIN)/pytest -q

# dagster dev (UI + daemon) on the Dagster home `vardval run` uses (<data>/dagster_home), port 3000
ui: $(BIN)/.installed
	$(BIN)/vardval ui --port 3000

ui-screenshot: $(BIN)/.installed
	$(BIN)/python scripts/ui_screenshot.py

benchmark: $(BIN)/.installed
	$(BIN)/python scripts/benchmark.py --scale 1 --months 3 --skip-national
