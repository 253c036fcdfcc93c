"""Retention per seed, one test per family: raw partitions, the quarantine and every family's marts expire after
the windows their seed sets. The windows below are written out from the seeds, not read from the registry."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conformance_support import run_cli
from support import PARSED

AS_OF = date(2026, 11, 20)
SEED_WINDOWS = {
    # family: (raw days, {aggregate model: days})
    "politics": (14, {"agg_politics_daily": 180, "agg_politics_weekly": 365}),       # docs/requirements/politics.md#retention
    "ability": (14, {"agg_ability_metrics_daily": 90, "agg_ability_metrics_weekly": 90,  # docs/requirements/ability.md#retention: warm 14d,
                     "agg_ability_metric_totals_daily": 90}),                        # cold (aggregates) 90d
    "gameplay": (183, {"agg_gameplay_daily": 183, "agg_gameplay_weekly": 183,  # gameplay.md#retention: 6-month warm store
                       "agg_gameplay_monthly": 183, "agg_gameplay_combat_daily": 183,
                       "agg_gameplay_xp_velocity_daily": 183}),
    "recsys": (90, {"agg_recsys_daily": 400, "agg_recsys_positions_daily": 400, "agg_recsys_weekly": 400,  # recsys.md
               "agg_recsys_monthly": 400, "dq_recsys_daily": 400,  # #rollups: 400 d; DQ rates and readouts too
               "fct_recsys_experiment_results": 400}),
    "learning": (90, {"fct_learning_sessions": 365, "fct_learning_session_features": 365}),  # docs/requirements/learning.md: 90 d / 1 y
}
LAKE_TYPE = {"politics": "politics_bill_vote", "ability": "ability_metric_summary", "gameplay": "gameplay_session_start",
             "recsys": "recsys_request", "learning": "learning_mission_start"}


def partition(data: Path, lake_type: str, day: date, rows: dict | None = None) -> Path:
    folder = data / "lake" / "events" / f"event_type={lake_type}" / f"event_date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(rows or {"event_id": ["e"]}), folder / "b-0000.parquet")
    return folder


def kept_dates(data: Path, lake_type: str) -> list[str]:
    folder = data / "lake" / "events" / f"event_type={lake_type}"
    return sorted(p.name.split("=", 1)[1] for p in folder.glob("event_date=*"))


def check_raw_window(tmp_path: Path, family: str) -> None:
    days, _ = SEED_WINDOWS[family]
    data = tmp_path / "d"
    inside, edge, outside = AS_OF - timedelta(days=days - 1), AS_OF - timedelta(days=days), AS_OF - timedelta(days=days + 1)
    for day in (inside, edge, outside):
        partition(data, LAKE_TYPE[family], day)
    result = run_cli("retention", "apply", "--data-dir", str(data), "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    assert kept_dates(data, LAKE_TYPE[family]) == [edge.isoformat(), inside.isoformat()]
    logged = [json.loads(line) for line in (data / "lake" / "_maintenance" / "retention.jsonl").read_text().splitlines()]
    assert [(d["layer"], Path(d["target"]).name) for d in logged] == [("raw", f"event_date={outside.isoformat()}")]


def test_politics_raw_expires_after_14_days(tmp_path):
    check_raw_window(tmp_path, "politics")


def test_ability_raw_expires_after_14_days(tmp_path):
    check_raw_window(tmp_path, "ability")


def test_gameplay_raw_expires_after_6_months(tmp_path):
    check_raw_window(tmp_path, "gameplay")


def test_learning_raw_expires_after_90_days(tmp_path):
    check_raw_window(tmp_path, "learning")


def test_recsys_raw_90_days_errors_30_critical_errors_90(tmp_path):
    check_raw_window(tmp_path, "recsys")
    data = tmp_path / "e"
    severities = {"severity": ["critical", "error", "warning"], "event_id": ["c", "e", "w"]}
    young = partition(data, "recsys_error", AS_OF - timedelta(days=10), severities)
    middle = partition(data, "recsys_error", AS_OF - timedelta(days=45), severities)
    old = partition(data, "recsys_error", AS_OF - timedelta(days=91), severities)
    result = run_cli("retention", "apply", "--data-dir", str(data), "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    assert pq.read_table(young).column("event_id").to_pylist() == ["c", "e", "w"]  # within 30 days: all kept
    assert pq.read_table(middle).column("event_id").to_pylist() == ["c"]  # 30–90 days: only critical errors
    assert not old.exists()  # past 90 days: gone


def test_quarantine_expires_after_30_days(tmp_path):
    data = tmp_path / "d"
    lines = ['{"broken": ']
    for as_of in ("2026-10-01T00:00:00Z", "2026-11-15T00:00:00Z"):
        source = tmp_path / f"{as_of[:10]}.jsonl"
        source.write_text(lines[0] + as_of + "\n")
        assert run_cli("ingest", str(source), "--data-dir", str(data), "--as-of", as_of).exit_code == 0
    run_cli("retention", "apply", "--data-dir", str(data), "--as-of", AS_OF.isoformat())
    received = sorted(d for p in (data / "lake" / "quarantine").glob("*.parquet") if not p.name.startswith("_")
                      for d in pq.read_table(p, columns=["received_date"]).column(0).to_pylist())
    assert received == [date(2026, 11, 15)]


@pytest.fixture(scope="module")
def manifest_dir(warehouses) -> Path:
    """A data directory whose dbt manifest describes this project (``dbt parse``: the models' real meta)."""
    return warehouses.get(PARSED).data_dir


@pytest.mark.dbt
@pytest.mark.parametrize("family", sorted(SEED_WINDOWS))
def test_every_familys_marts_expire_per_its_seed(manifest_dir, family, tmp_path):
    data = tmp_path / "d"
    (data / "dbt").mkdir(parents=True)
    (data / "dbt" / "target").symlink_to(manifest_dir / "dbt" / "target")
    _, marts = SEED_WINDOWS[family]
    manifest = json.loads((manifest_dir / "dbt" / "target" / "manifest.json").read_text())
    keys = {n["name"]: n["config"]["meta"]["retention_key"] for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and "retention_key" in (n["config"].get("meta") or {})
            and n["config"]["meta"].get("family") == family
            and n["config"]["meta"].get("retention") != "raw"}  # raw copies: test_retention_from_meta.py
    assert set(keys) == set(marts)  # every mart of the family is covered, and no other
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        for table, days in marts.items():
            con.execute(f"create table {table} ({keys[table]} date, n int)")
            for offset in (days - 1, days, days + 1):
                con.execute(f"insert into {table} values (?, ?)", [AS_OF - timedelta(days=offset), offset])
    result = run_cli("retention", "apply", "--data-dir", str(data), "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        for table, days in marts.items():
            left = sorted(n for (n,) in con.execute(f"select n from {table}").fetchall())
            assert left == [days - 1, days], table
