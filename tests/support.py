"""Helpers shared by the test modules (imported as ``support``: pytest puts ``tests/`` on ``sys.path``).

Kept out of ``conftest.py`` because several folders have a ``conftest.py`` of their own, and ``from conftest
import …`` would pick whichever was imported first.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
GAMEPLAY_KEY = b"gameplay-test-key-0123456789abcdef"
"""The HMAC key the ``gameplay_warehouse`` fixture (tests/conftest.py) ingests with."""
GAMEPLAY_MARTS = ("agg_gameplay_combat_daily", "agg_gameplay_xp_velocity_daily", "agg_onboarding_funnel",
                  "agg_gameplay_daily", "dq_ingest_daily")
"""The marts that fixture builds and publishes (with every parent)."""


@dataclass(frozen=True)
class GeneratedWarehouse:
    """A data directory built from generated events, and the generated files (the input, for expected values)."""

    data_dir: Path
    files: list[Path]


def require_shared_data(name: str) -> Path:
    """Path to ``../shared/data/<name>``; skips the test with a message when it is absent (fails under CI)."""
    path = SHARED_DATA / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have ../shared beside the clone")
        pytest.skip(f"{path} not found: the real data sets live in ../shared/data beside the clone")
    return path


def _is_null(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def assert_frames_match(actual: pl.DataFrame, expected: pl.DataFrame, keys: list[str],
                        columns: Iterable[str] | None = None, rel: float = 1e-9) -> None:
    """Same rows by ``keys`` and the same values in ``columns`` (default: every non-key column of
    ``expected``): integers and text exactly, floats to ``rel`` relative (and 1e-9 absolute), null/NaN where
    expected. The assertion message names the key and the column that differ."""
    columns = [c for c in (columns if columns is not None else expected.columns) if c not in keys]
    actual_rows = {tuple(r[k] for k in keys): r for r in actual.select(keys + columns).iter_rows(named=True)}
    expected_rows = {tuple(r[k] for k in keys): r for r in expected.select(keys + columns).iter_rows(named=True)}
    assert len(actual_rows) == actual.height, f"keys {keys} are not unique in the actual frame"
    missing = sorted(set(expected_rows) - set(actual_rows), key=str)
    extra = sorted(set(actual_rows) - set(expected_rows), key=str)
    assert not missing and not extra, f"missing: {missing[:5]} extra: {extra[:5]}"
    for key, want in expected_rows.items():
        got = actual_rows[key]
        for column in columns:
            a, b = got[column], want[column]
            if _is_null(b):
                assert _is_null(a), (key, column, a, b)
            elif isinstance(b, float):
                assert a == pytest.approx(b, rel=rel, abs=1e-9), (key, column, a, b)
            else:
                assert a == b, (key, column, a, b)
