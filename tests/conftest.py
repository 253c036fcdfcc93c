"""Shared pytest fixtures: the registry, a hash key, and where ../shared lives. dbt's data tests check every row
here (TELEMETRY_FULL_TESTS): the suite's lakes are small, so the full check is cheap. dbt's unit tests check
model logic on fixed inputs, the same whatever the lake: the builds here leave them out (DBT_EXCLUDE_RESOURCE_TYPES)
and the clean build of tests/e2e/test_arrival_order.py runs every one of them once."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TELEMETRY_FULL_TESTS", "true")
# one dbt parse of the project, shared by every data directory the suite builds (ingest.warehouse.dbt.invoke_dbt)
os.environ.setdefault("TELEMETRY_DBT_PARSE_CACHE", str(Path(tempfile.gettempdir()) / f"telemetry-dbt-parse-{os.getuid()}"))
os.environ.setdefault("DBT_EXCLUDE_RESOURCE_TYPES", "unit_test")

from support import ROOT, SHARED, SHARED_DATA, require_shared_data  # noqa: F401  (older imports)


def pytest_collection_modifyitems(config, items) -> None:
    """Modules with ``slow`` dbt tests first, then other ``slow`` modules, the rest in their order: `make test`
    spreads modules over workers (pytest-xdist ``--dist loadfile``), and a long module started last would keep
    one worker busy alone."""
    def modules(marker: str) -> set[str]:
        return {item.module.__name__ for item in items if item.get_closest_marker(marker)}

    slow, dbt = modules("slow"), modules("dbt")
    items.sort(key=lambda item: (item.module.__name__ not in slow, item.module.__name__ not in dbt))


@pytest.fixture(scope="session")
def registry():
    from ingest.registry import Registry

    return Registry.load(ROOT / "schemas")


@pytest.fixture(autouse=True)
def hash_key(monkeypatch):
    """Every test runs with a throwaway HMAC key (never the demo key)."""
    monkeypatch.setenv("TELEMETRY_HASH_KEY", "test-key-0123456789abcdef-0123456789")
    monkeypatch.delenv("TELEMETRY_HASH_KEY_FILE", raising=False)
    monkeypatch.delenv("TELEMETRY_HASH_KEY_ID", raising=False)
    return b"test-key-0123456789abcdef-0123456789"


@pytest.fixture(scope="session")
def warehouses(tmp_path_factory):
    """The session's warehouse factory (``support.WarehouseFactory``): ``warehouses.get(spec)`` builds a
    ``support.WarehouseSpec`` once and shares it read-only; ``warehouses.copy(spec, path)`` for a test that
    changes it."""
    from support import WarehouseFactory

    return WarehouseFactory(tmp_path_factory.mktemp("warehouses"))


@pytest.fixture(scope="session")
def gameplay_warehouse(warehouses):
    """Generated gameplay events (``ingest.generate``, 20 players over 4 days, ingested with the real pipeline)
    and the gameplay marts built and published with ``run_dbt`` (their data tests run too): ``support.GAMEPLAY``.
    Returns ``support.GeneratedWarehouse``."""
    from support import GAMEPLAY, GeneratedWarehouse

    built = warehouses.get(GAMEPLAY)
    return GeneratedWarehouse(built.data_dir, built.landed)


@pytest.fixture(scope="session")
def built(warehouses):
    """The readers' warehouse (``readers_support.READERS``): two synthetic recsys batches ingested with the real
    pipeline, the recsys marts and ``dq_ingest_daily`` built and published with ``run_dbt``. Returns
    ``readers_support.Built``; tests that change files work on copies (``readers_support.copy_data_dir``)."""
    from readers_support import READERS, Built

    warehouse = warehouses.get(READERS)
    batch_ids, quarantined = warehouse.landed
    return Built(warehouse.data_dir, batch_ids, quarantined)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium (or Chrome); skipped with a message when absent, a failure under CI."""
    from chromium import find_chromium

    path = find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium not found: .ci/run installs Debian's chromium so CI runs the screenshot tests")
        pytest.skip("no Chromium found (install Debian's `chromium`): the screenshot test is skipped")
    return path
