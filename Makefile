# Two commands for a fresh machine with Python 3.11 and make: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export TELEMETRY_DATA_DIR ?= $(CURDIR)/data
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install demo test sources bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/telemetry demo --data-dir "$(TELEMETRY_DATA_DIR)"

test: $(STAMP)
	$(BIN)/telemetry schemas check
	$(BIN)/python -m pytest -q

sources: $(STAMP)
	$(BIN)/telemetry schemas sources

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) *.egg-info target logs
