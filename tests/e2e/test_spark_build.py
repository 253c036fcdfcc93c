"""The same warehouse on Apache Spark: generated players of the recsys, politics and gameplay families are landed
once; `dbt build` (DuckDB, the default target) and `dbt build --target spark` (dbt-spark, local PySpark) then
build the same lake, and every mart of those families Spark wrote equals DuckDB's, row for row (floats to 1e-9
relative). DuckDB is the independent expectation: another engine, the same models.

Spark's marts are read back from their Parquet folders (`spark/warehouse/telemetry.db/<mart>/`, partitioned
by date) with DuckDB, which is also the proof that they are readable outside Spark.

Needs the optional extra (`pip install -e '.[spark]'`: PySpark and dbt-spark) and Java 17; skipped without it.
"""

from __future__ import annotations

import decimal
import json
import math
import os
import time
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from ingest.config import PROJECT_ROOT
from ingest.generate import GenerateConfig, generate
from ingest.pipeline.service import ingest_files, ingest_settings
from ingest.privacy import IdentityHasher, Keyring
from ingest.registry import Registry
from ingest.warehouse.dbt import invoke_dbt

pytestmark = [pytest.mark.spark, pytest.mark.dbt, pytest.mark.slow]

FAMILIES = ("recsys", "politics", "gameplay")
START = date(2024, 11, 4)
DAYS = 4
PLAYERS = 20
# what Spark builds here: every model of these folders, and the ledger/quarantine staging they read
SPARK_SELECT = [f"path:models/{layer}/{family}" for layer in ("staging", "intermediate", "marts") for family in FAMILIES]
# gameplay's onboarding reads the player-day table (core), which reads the learning events too
SPARK_SELECT += ["path:models/marts/core", "path:models/staging/learning", "path:models/staging/ops",
                 "path:models/marts/ops", "path:seeds"]
TIMEOUT_SECONDS = 420


def _spark_available() -> str | None:
    for module in ("pyspark", "dbt.adapters.spark"):
        try:
            __import__(module)
        except ImportError:
            return module
    return None


missing = _spark_available()
if missing is not None and os.environ.get("TELEMETRY_REQUIRE_SPARK"):
    pytest.fail(f"{missing} is not installed, and `make test-spark` needs the optional extra", pytrace=False)
if missing is not None:
    pytest.skip(f"{missing} is not installed: the Spark build needs the optional extra "
                "(`make install-spark`, or pip install -e '.[spark]')", allow_module_level=True)


def dbt(args: list[str], data_dir: Path) -> float:
    """`dbt <args>` on the warehouse of `data_dir`; returns the wall-clock seconds it took."""
    started = time.monotonic()
    run = invoke_dbt(args, data_dir, target_path=data_dir / "target", log_path=data_dir / "logs", capture=True,
                     timeout=TIMEOUT_SECONDS)
    if run.returncode != 0:
        failures = [line for line in run.stdout.splitlines() if "ERROR" in line or "FAIL" in line]
        raise AssertionError(f"dbt {' '.join(args)} failed:\n" + "\n".join(failures[:40]) + "\n" + run.stdout[-3000:])
    return time.monotonic() - started


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict:
    """One lake, copied to two data directories; the DuckDB and the Spark build of it."""
    root = tmp_path_factory.mktemp("spark")
    generated = root / "generated"
    generate(GenerateConfig(players=PLAYERS, days=DAYS, seed=7, out=generated, start=START, families=FAMILIES))
    files = sorted(path for family in FAMILIES for path in (generated / family).glob("*.jsonl"))
    opt_out = generated / "opt_out.txt"
    as_of = datetime.combine(START + timedelta(days=DAYS - 1), clock(23, 59, 59), tzinfo=timezone.utc)
    registry = Registry.load(PROJECT_ROOT / "schemas")
    dirs = {"duckdb": root / "duckdb", "spark": root / "spark"}
    for data_dir in dirs.values():
        (data_dir / "privacy").mkdir(parents=True)
        (data_dir / "privacy" / "opt_out.txt").write_text(opt_out.read_text() if opt_out.exists() else "")
        settings = ingest_settings(data_dir, registry, Keyring.single(IdentityHasher.demo()), as_of, backfill=True)
        report = ingest_files(files, settings, data_dir, registry=registry)
        assert sum(batch.landed for batch in report.batches) > 0
    seconds = {
        "duckdb": dbt(["build"], dirs["duckdb"]),
        # seeds and models; the data and unit tests (they pass on Spark too, docs/scale-out.md) would double the
        # time, and the comparison below is the stronger check
        "spark": dbt(["build", "--target", "spark", "--select", *SPARK_SELECT,
                      "--exclude-resource-type", "test", "unit_test"], dirs["spark"]),
    }
    print(f"\nbuild seconds: duckdb {seconds['duckdb']:.1f}, spark {seconds['spark']:.1f}")
    return {**dirs, "seconds": seconds}


def built_marts(data_dir: Path) -> list[str]:
    """The agg_/fct_/dq_ marts of the compared families in the manifest of `data_dir`'s last build."""
    manifest = json.loads((data_dir / "target" / "manifest.json").read_text())
    return sorted(
        node["name"] for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts" and node["fqn"][2] in FAMILIES
        and node["name"].startswith(("agg_", "fct_", "dq_")) and on_spark(node)
    )


def on_spark(node: dict) -> bool:
    """False for a model that declares the engines it runs on (`meta.engines`) without Spark."""
    return "spark" in ((node["config"].get("meta") or {}).get("engines") or ["spark"])


def normalised(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, list):
        return [normalised(item) for item in value]
    if isinstance(value, dict):
        return {key: normalised(item) for key, item in value.items()}
    return value


def rows_of(con: duckdb.DuckDBPyConnection, relation: str, names: list[str]) -> list[tuple]:
    rows = [tuple(normalised(v) for v in row) for row in con.sql(f"select {', '.join(names)} from {relation}").fetchall()]

    def order(row: tuple) -> tuple:
        return tuple((1, "") if v is None else (0, f"{v:.6g}" if isinstance(v, float) else str(v)) for v in row)

    return sorted(rows, key=order)


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def spark_relation(data_dir: Path, mart: str) -> str | None:
    """DuckDB's reader of the Parquet folder Spark wrote for `mart`; None when the table has no rows (Spark
    writes no file for an empty table)."""
    folder = data_dir / "spark" / "warehouse" / "telemetry.db" / mart
    assert folder.is_dir(), f"{mart}: Spark wrote no folder {folder}"
    if not list(folder.glob("**/*.parquet")):
        return None
    return f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"


def test_spark_builds_every_mart_of_the_families(builds):
    marts = built_marts(builds["duckdb"])
    assert {"agg_recsys_daily", "agg_politics_daily", "agg_gameplay_daily", "fct_gameplay_sessions"} <= set(marts)
    for mart in marts:
        spark_relation(builds["spark"], mart)


@pytest.mark.parametrize("family", [*FAMILIES, "core"])
def test_spark_marts_equal_duckdb_row_for_row(builds, family):
    manifest = json.loads((builds["duckdb"] / "target" / "manifest.json").read_text())
    marts = sorted(n["name"] for n in manifest["nodes"].values()
                   if n["resource_type"] == "model" and n["fqn"][1:3] == ["marts", family]
                   and n["name"].startswith(("agg_", "fct_", "dq_")) and on_spark(n))
    assert marts
    non_empty = 0
    with duckdb.connect(str(builds["duckdb"] / "warehouse.duckdb"), read_only=True) as expected, \
            duckdb.connect() as got:
        for mart in marts:
            described = expected.sql(f"describe {mart}").fetchall()
            names = [name for name, *_ in described if not name.startswith("_")]
            want = rows_of(expected, mart, names)
            relation = spark_relation(builds["spark"], mart)
            have = rows_of(got, relation, names) if relation is not None else []
            assert len(have) == len(want), f"{mart}: Spark {len(have)} rows, DuckDB {len(want)}"
            non_empty += bool(want)
            for have_row, want_row in zip(have, want):
                bad = [n for n, a, b in zip(names, have_row, want_row) if not same(a, b)]
                assert not bad, f"{mart}: columns {bad} differ:\n spark  {have_row}\n duckdb {want_row}"
    assert non_empty, f"{family}: every mart is empty"


def test_spark_marts_are_parquet_partitioned_by_date(builds):
    folder = builds["spark"] / "spark" / "warehouse" / "telemetry.db" / "agg_recsys_daily"
    partitions = sorted(p.name for p in folder.glob("event_date=*"))
    assert partitions and all(date.fromisoformat(p.split("=", 1)[1]) for p in partitions)
    weekly = builds["spark"] / "spark" / "warehouse" / "telemetry.db" / "agg_politics_weekly"
    assert list(weekly.glob("week_start=*/*.parquet"))
