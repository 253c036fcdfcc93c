"""Helpers shared by the test modules (imported as ``support``: pytest puts ``tests/`` on ``sys.path``).

Kept out of ``conftest.py`` because several folders have a ``conftest.py`` of their own, and ``from conftest
import …`` would pick whichever was imported first.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class WarehouseSpec:
    """What a test warehouse is built from; equal specs are one warehouse per session (``warehouses`` fixture).

    Attributes:
        name: the folder's name (under the session's temporary folder).
        land: ``land(data_dir)`` writes the lake into ``data_dir`` (ingesting with the real pipeline, or by
            hand) and returns what the tests need to know about the input (files, batch ids, …); a module-level
            function, so that specs compare by it.
        builds: dbt argument lists run in turn through ``ingest.warehouse.run_dbt`` (a ``build`` publishes the
            marts), e.g. ``(("build", "--select", "+agg_recsys_daily"),)``; ``()`` builds nothing.
    """

    name: str
    land: Callable[[Path], Any] | None = None
    builds: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Warehouse:
    """A built data directory (``lake/``, ``warehouse.duckdb``, ``marts/``, ``dbt/target/``) and what its
    spec's ``land`` returned."""

    data_dir: Path
    landed: Any = None


class WarehouseFactory:
    """Builds each :class:`WarehouseSpec` once per session under ``root`` and hands the same read-only
    warehouse to every test that asks for it; a test that changes files asks for a :meth:`copy`.

    dbt's parse of the project is shared by every data directory (``TELEMETRY_DBT_PARSE_CACHE``, set in
    tests/conftest.py); what a shared warehouse saves is the landing and the build.
    """

    def __init__(self, root: Path):
        self.root = root
        self._built: dict[WarehouseSpec, Warehouse] = {}

    def get(self, spec: WarehouseSpec) -> Warehouse:
        """The session's warehouse for ``spec``, built on first use. Raises ``CheckFailed`` when a build fails."""
        if spec not in self._built:
            from ingest.warehouse import run_dbt

            data_dir = self.root / spec.name
            if data_dir.exists():  # two specs of one name: keep both
                data_dir = self.root / f"{spec.name}-{len(self._built)}"
            data_dir.mkdir(parents=True)
            landed = spec.land(data_dir) if spec.land is not None else None
            for args in spec.builds:
                run_dbt(list(args), data_dir, quiet=True)
            self._built[spec] = Warehouse(data_dir, landed)
        return self._built[spec]

    def copy(self, spec: WarehouseSpec, target: Path) -> Warehouse:
        """A private copy of the session's warehouse for ``spec`` at ``target`` (lake, warehouse, marts, dbt
        target), for a test that changes it. The copy's views still read the original lake until a dbt run in
        the copy recreates them."""
        built = self.get(spec)
        shutil.copytree(built.data_dir, target, symlinks=True)
        return Warehouse(target, built.landed)


def land_gameplay(data_dir: Path) -> list[Path]:
    """Generated gameplay events (``ingest.generate``: 20 players over 4 days, seed 7, under ``GAMEPLAY_KEY``),
    ingested with the real pipeline; returns the generated files (the input, for expected values)."""
    from datetime import datetime, timezone

    from ingest.generate import GenerateConfig, generate
    from ingest.pipeline import IngestSettings, ingest_files
    from ingest.registry import Registry

    out = data_dir.with_name(f"{data_dir.name}-generated")
    generate(GenerateConfig(players=20, days=4, seed=7, out=out, families=("gameplay",), hash_key=GAMEPLAY_KEY))
    files = sorted((out / "gameplay").glob("*.jsonl"))
    registry = Registry.load(ROOT / "schemas")
    settings = IngestSettings(registry.root, GAMEPLAY_KEY, "k-test", datetime(2026, 1, 1, tzinfo=timezone.utc),
                              backfill=True)
    batches = ingest_files(files, settings, data_dir, registry=registry).batches
    assert all(b.quarantined == 0 for b in batches)
    return files


# the marts and every parent; other families' staging tests are theirs (their sources are empty here)
_NOT_GAMEPLAY_TESTS = [f"resource_type:test,path:{p}" for p in (
    "models/staging/recsys", "models/staging/politics", "models/staging/ability", "models/staging/learning",
    "models/staging/ops", "seeds")]
GAMEPLAY = WarehouseSpec("gameplay", land_gameplay, (
    ("build", "--select", *(f"+{m}" for m in GAMEPLAY_MARTS), "--indirect-selection", "cautious",
     "--exclude", *_NOT_GAMEPLAY_TESTS),))
"""The ``gameplay_warehouse`` fixture's warehouse: the gameplay marts built and published (data tests too)."""
PARSED = WarehouseSpec("parsed", None, (("parse",),))
"""A data directory holding only dbt's parse of the project (``dbt/target/manifest.json``: the models' meta)."""


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
