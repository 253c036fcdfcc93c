"""Superset's configuration for the warehouse's dashboards (docs/bi.md); read by Superset through
``SUPERSET_CONFIG_PATH``, which ``bi/superset_bi.py`` sets.

Everything Superset keeps lives under ``<data_dir>/bi/`` (``$TELEMETRY_DATA_DIR``, default ``./data``): its
metadata database ``superset.db`` (SQLite), the generated ``secret_key`` (mode 0600, never in the repository),
and ``marts.duckdb``, the read-only DuckDB database of views over the published marts that the dashboards query.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

DATA_DIR_ENV = "TELEMETRY_DATA_DIR"
BI_DIR = Path(os.environ.get(DATA_DIR_ENV) or Path(__file__).resolve().parents[1] / "data").resolve() / "bi"

# Superset's own files (uploads, logs) under the data directory, not ~/.superset.
DATA_DIR = str(BI_DIR / "home")
SQLALCHEMY_DATABASE_URI = f"sqlite:///{BI_DIR / 'superset.db'}?check_same_thread=false"

_secret = BI_DIR / "secret_key"
SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY") or (_secret.read_text().strip() if _secret.exists() else None)
if not SECRET_KEY:
    raise RuntimeError(f"no Superset secret key in {_secret}: run `make bi` (it generates one)")

APP_NAME = "Game telemetry"
LOG_LEVEL = logging.WARNING
ROW_LIMIT = 50000
# Charts below the fold load at once: the dashboards are small and a screenshot shows every chart.
FEATURE_FLAGS = {"DASHBOARD_VIRTUALIZATION": False, "ALERT_REPORTS": False, "THUMBNAILS": False}
# The metadata database is SQLite on one machine: no Celery, no Redis; results are not cached between requests
# (the marts change with each build).
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
# Served on localhost over plain HTTP.
SESSION_COOKIE_SECURE = False
