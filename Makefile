# Two commands for a fresh machine with Python 3.11 and make: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export TELEMETRY_DATA_DIR ?= $(CURDIR)/data
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install install-spark install-bi demo bi test test-fast test-spark test-bi lint lint-fix sources bench lock clean

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

# Everything but the BI tests, which need their own environment (`make test-bi`), one test module per worker
# process (pytest-xdist; TEST_WORKERS=1 runs them one after another).
TEST_WORKERS ?= logical
test: $(STAMP)
	$(BIN)/telemetry schemas check
	$(BIN)/python -m pytest -q -m "not bi" -n $(TEST_WORKERS) --dist loadfile

# The inner loop: everything that builds no dbt project and starts no browser, spread over the CPUs.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not dbt and not slow and not browser and not bi" -n $(TEST_WORKERS)

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

# The dashboards on Apache Superset (docs/bi.md), in their own environment .venv-bi: Superset's pins conflict with
# requirements.lock. `make bi` (after `make demo`) sets Superset up under $(TELEMETRY_DATA_DIR)/bi, loads the
# dashboards of bi/assets/ and serves them on http://127.0.0.1:$(BI_PORT)/.
BI_VENV  := .venv-bi
BI_BIN   := $(BI_VENV)/bin
BI_STAMP := $(BI_VENV)/.installed-stamp
export BI_PORT ?= 8088
$(BI_STAMP): requirements-bi.lock
	$(PYTHON) -m venv $(BI_VENV)
	$(BI_BIN)/python -m pip install --quiet --upgrade pip
	$(BI_BIN)/python -m pip install --quiet -r requirements-bi.lock
	touch $(BI_STAMP)

install-bi: $(BI_STAMP)

bi: $(BI_STAMP)
	$(BI_BIN)/python bi/superset_bi.py run --data-dir "$(TELEMETRY_DATA_DIR)"

# Starts Superset on a free port over a demo built in a temporary folder; fails, not skips, without .venv-bi.
test-bi: $(STAMP) $(BI_STAMP)
	TELEMETRY_REQUIRE_BI=1 $(BIN)/python -m pytest -q -m bi

sources: $(STAMP)
	$(BIN)/telemetry schemas sources

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra collector --extra quality --extra importers --extra test --extra lint --python-version 3.11 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) $(BI_VENV) *.egg-info target logs
