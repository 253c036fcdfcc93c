# Two commands for a fresh machine with Python 3.11 and make: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export TELEMETRY_DATA_DIR ?= $(CURDIR)/data
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install install-spark demo test test-fast test-spark lint lint-fix sources bench lock clean

# The exact tested versions from requirements.lock, then the project itself without resolving again.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/telemetry demo --data-dir "$(TELEMETRY_DATA_DIR)"

test: $(STAMP)
	$(BIN)/telemetry schemas check
	$(BIN)/python -m pytest -q

# The inner loop: everything that builds no dbt project and starts no browser (under a minute).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not dbt and not slow and not browser"

# ruff over the Python, sqlfluff over the dbt models and macros (configs: pyproject.toml, .sqlfluff).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint models macros --processes 2

# What the linters can fix by themselves; the rest `make lint` lists for a person.
lint-fix: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/sqlfluff fix models macros --processes 2

# The optional Spark extra (PySpark, dbt-spark; needs Java 17) and the tests that build the project on Spark.
SPARK_STAMP := $(VENV)/.installed-spark-stamp
$(SPARK_STAMP): $(STAMP) requirements-spark.lock
	$(BIN)/python -m pip install --quiet -r requirements-spark.lock
	touch $(SPARK_STAMP)

install-spark: $(SPARK_STAMP)

test-spark: $(SPARK_STAMP)
	TELEMETRY_REQUIRE_SPARK=1 $(BIN)/python -m pytest -q -m spark

sources: $(STAMP)
	$(BIN)/telemetry schemas sources

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test --extra lint --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) *.egg-info target logs
