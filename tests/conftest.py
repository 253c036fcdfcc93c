"""Shared pytest fixtures: the registry, a hash key, and where ../shared lives. dbt's data tests check every row
here (TELEMETRY_FULL_TESTS): the suite's lakes are small, so the full check is cheap. dbt's unit tests check
model logic on fixed inputs, the same whatever the lake: the builds here leave them out (DBT_EXCLUDE_RESOURCE_TYPES)
and the clean build of tests/integration/test_arrival_order.py runs every one of them once."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TELEMETRY_FULL_TESTS", "true")
os.environ.setdefault("DBT_EXCLUDE_RESOURCE_TYPES", "unit_test")

from support import ROOT, SHARED, SHARED_DATA, require_shared_data  # noqa: F401  (older imports)


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
def gameplay_warehouse(tmp_path_factory):
    """Generated gameplay events (``ingest.generate``, 20 players over 4 days, ingested with the real pipeline)
    and the gameplay marts built and published with ``run_dbt`` (their data tests run too). Shared by the mart
    tests and the report test. Returns ``support.GeneratedWarehouse``."""
    from datetime import datetime, timezone

    from ingest.generate import GenerateConfig, generate
    from ingest.pipeline import IngestSettings, ingest_files
    from ingest.registry import Registry
    from ingest.warehouse import run_dbt
    from support import GAMEPLAY_KEY, GAMEPLAY_MARTS, GeneratedWarehouse

    root = tmp_path_factory.mktemp("gameplay")
    out = root / "generated"
    generate(GenerateConfig(players=20, days=4, seed=7, out=out, families=("gameplay",), hash_key=GAMEPLAY_KEY))
    files = sorted((out / "gameplay").glob("*.jsonl"))
    data_dir = root / "data"
    registry = Registry.load(ROOT / "schemas")
    settings = IngestSettings(registry.root, GAMEPLAY_KEY, "k-test", datetime(2026, 1, 1, tzinfo=timezone.utc),
                              backfill=True)
    batches = ingest_files(files, settings, data_dir, registry=registry).batches
    assert all(b.quarantined == 0 for b in batches)
    # the marts and every parent; other families' staging tests are theirs (their sources are empty here)
    others = [f"resource_type:test,path:{p}" for p in ("models/staging/recsys", "models/staging/politics",
                                                      "models/staging/ability", "models/staging/learning",
                                                      "models/staging/ops", "seeds")]
    run_dbt(["build", "--select", *(f"+{m}" for m in GAMEPLAY_MARTS), "--indirect-selection", "cautious",
             "--exclude", *others], data_dir, quiet=True)
    return GeneratedWarehouse(data_dir, files)
