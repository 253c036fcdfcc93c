"""Fixtures for the reader tests: one small warehouse, built once per session by the ``warehouses`` factory.

Two synthetic recsys batches (``ingest.generate.synthetic``) are ingested with the real pipeline into a temporary
data directory, then ``dbt build`` (without its tests) builds the recsys marts and ``dq_ingest_daily`` through
``ingest.warehouse.run_dbt``, which publishes the marts to ``<data_dir>/marts/`` (``readers_support.READERS``).
Tests that change files work on copies (``readers_support.copy_data_dir``, ``warehouses.copy``).
"""

from __future__ import annotations

import os

import pytest

from chromium import find_chromium
from readers_support import READERS, Built


@pytest.fixture(scope="session")
def built(warehouses) -> Built:
    warehouse = warehouses.get(READERS)
    batch_ids, quarantined = warehouse.landed
    return Built(warehouse.data_dir, batch_ids, quarantined)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium (or Chrome); skipped with a message when absent, a failure under CI."""
    path = find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not found: .ci/run installs Debian's chromium so CI runs the screenshot tests")
        pytest.skip("no Chromium found (install Debian's `chromium`): the screenshot test is skipped")
    return path
