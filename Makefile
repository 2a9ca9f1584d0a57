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

.PHONY: install demo test test-all ui benchmark
install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/vardval demo

test: $(BIN)/.installed
	$(BIN)/pytest -q -m "not slow"

test-all: $(BIN)/.installed
	$(BIN)/pytest -q

ui: $(BIN)/.installed
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000
