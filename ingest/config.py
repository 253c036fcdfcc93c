"""Where things are: the project folders (registry, seeds, dbt project) and the data directory.

The one place that knows the repository layout; every other module asks here. The project folder is found
once, at import (docs/architecture.md "Where the project folder is found").
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR_ENV = "TELEMETRY_PROJECT_DIR"
"""Environment variable naming the project folder to use instead of the checkout or the packaged copy."""
PACKAGED_PROJECT = Path(__file__).resolve().parent / "_project"
"""The copy of the registry and the dbt project that the wheel carries (pyproject.toml, force-include)."""


def project_root() -> Path:
    """The project folder: ``$TELEMETRY_PROJECT_DIR``, else the source checkout, else the packaged copy.

    The checkout is the folder above the package when it holds ``dbt_project.yml`` (a clone, an editable
    install); an installed wheel has no such folder and uses :data:`PACKAGED_PROJECT`, which may be read-only
    (dbt writes its target and logs under the data directory, never here).
    """
    value = os.environ.get(PROJECT_DIR_ENV)
    if value:
        return Path(value).expanduser().resolve()
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "dbt_project.yml").is_file() else PACKAGED_PROJECT


PROJECT_ROOT = project_root()
"""The project folder (:func:`project_root`): ``dbt_project.yml``, ``profiles.yml``, ``schemas/``, ``seeds/``."""
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
"""The JSON Schema registry (one file per event type and version)."""
SEEDS_DIR = PROJECT_ROOT / "seeds"
"""dbt seeds: small static lookups (metric registry, thresholds, reference lists)."""
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
"""The real data sets (Open Bandit, WAVES, StarCraft II replays), beside the project folder when present."""
DATA_DIR_ENV = "TELEMETRY_DATA_DIR"
WAREHOUSE_ENV = "TELEMETRY_WAREHOUSE"
"""Environment variable the dbt profile reads as the database path, when set (else ``$TELEMETRY_DATA_DIR/…``)."""
WAREHOUSE_FILE = "warehouse.duckdb"
"""The DuckDB warehouse's file name inside the data directory."""
DBT_PARSE_CACHE_ENV = "TELEMETRY_DBT_PARSE_CACHE"
"""Environment variable naming a folder where dbt's parse of the project is kept and shared by every data
directory (ingest.warehouse.dbt.invoke_dbt): a new data directory's first dbt run then skips the full parse."""


def default_data_dir() -> Path:
    """``$TELEMETRY_DATA_DIR``, else ``./data`` (relative to the current directory).

    The same rule as the CLI's ``--data-dir`` default, so ``telemetry dbt build`` and ``warehouse.read()`` run
    from the same folder find the same warehouse (docs/readers.md).
    """
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value) if value else Path("data")
