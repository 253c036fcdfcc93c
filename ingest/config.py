"""Where things are: the project folders (registry, seeds, dbt project) and the data directory.

The one place that knows the repository layout; every other module asks here.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The repository root: ``dbt_project.yml``, ``profiles.yml``, ``schemas/``, ``seeds/``."""
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
"""The JSON Schema registry (one file per event type and version)."""
SEEDS_DIR = PROJECT_ROOT / "seeds"
"""dbt seeds: small static lookups (metric registry, thresholds, reference lists)."""
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
"""The real data sets (Open Bandit, WAVES, StarCraft II replays), beside the clone when present."""
DATA_DIR_ENV = "TELEMETRY_DATA_DIR"


def default_data_dir() -> Path:
    """``$TELEMETRY_DATA_DIR``, else ``./data`` (relative to the current directory).

    The same rule as the CLI's ``--data-dir`` default, so ``telemetry dbt build`` and ``warehouse.read()`` run
    from the same folder find the same warehouse (docs/readers.md).
    """
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value) if value else Path("data")
