"""Shared pytest fixtures: the registry, a hash key, and where ../shared lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="session")
def registry():
    from ingest.registry import Registry

    return Registry.load(ROOT / "schemas")


@pytest.fixture(autouse=True)
def hash_key(monkeypatch):
    """Every test runs with a throwaway HMAC key (never the demo key)."""
    monkeypatch.setenv("TELEMETRY_HASH_KEY", "test-key-0123456789abcdef")
    monkeypatch.delenv("TELEMETRY_HASH_KEY_FILE", raising=False)
    monkeypatch.delenv("TELEMETRY_HASH_KEY_ID", raising=False)
    return b"test-key-0123456789abcdef"


def require_shared_data(name: str) -> Path:
    """Path to ``../shared/data/<name>``; skips the test with a message when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have ../shared beside the clone")
        pytest.skip(f"{path} not found: the real data sets live in ../shared/data beside the clone")
    return path
