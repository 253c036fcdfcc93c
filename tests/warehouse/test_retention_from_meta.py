"""Retention finds the aggregate tables and their windows from the models' dbt `meta` (family, grain,
retention key), not from table names: every incremental `agg_` rollup is covered, including those whose name
is not `agg_<family>_<grain>`, each with its family's aggregate window for its grain (schemas/<family>/_family.json)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from ingest.lake import Lake
from ingest.lifecycle import retention
from ingest.registry import Registry
from support import PARSED

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 1, 1)


def expected_windows() -> dict[str, tuple[str, int]]:
    """table → (date column, days), read from the model files (their config's meta) and the family manifests
    directly, without dbt or the retention module."""
    out = {}
    for path in sorted(ROOT.glob("models/marts/*/*.sql")):
        match = re.search(r"'grain': '(\w+)', 'retention_key': '(\w+)'", path.read_text())
        if not match:
            continue
        grain, column = match.groups()
        family = path.parent.name
        windows = json.loads((ROOT / "schemas" / family / "_family.json").read_text())["retention_days"].get("aggregates")
        days = windows.get(grain) if isinstance(windows, dict) else windows
        if days is None:  # no aggregate window for this grain in the family's seed
            continue
        out[path.stem] = (column, int(days))
    return out


@pytest.mark.dbt
def test_retention_plans_every_aggregate_model_from_its_meta(warehouses, tmp_path):
    data = tmp_path / "data"
    (data / "dbt").mkdir(parents=True)
    (data / "dbt" / "target").symlink_to(warehouses.get(PARSED).data_dir / "dbt" / "target")  # `dbt parse`'s manifest
    expected = expected_windows()
    assert {"agg_politics_weekly", "agg_gameplay_monthly", "agg_recsys_daily"} <= expected.keys()
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        for table, (column, days) in expected.items():  # one row just inside the window, two just outside
            cutoff = AS_OF - timedelta(days=days)
            con.execute(f"create table {table} ({column} date)")
            con.execute(f"insert into {table} values (?), (?), (?)",
                        [cutoff, cutoff - timedelta(days=1), cutoff - timedelta(days=400)])
        con.execute("create table agg_not_a_rollup (event_date date)")  # no meta: never touched
        con.execute("insert into agg_not_a_rollup values ('2000-01-01')")
    lake = Lake(data / "lake")
    drops = retention.apply(Registry.load(ROOT / "schemas"), lake, AS_OF, data / "warehouse.duckdb")
    planned = {d.target: (d.column, d.cutoff, d.rows) for d in drops if d.layer == "aggregate"}
    assert planned == {table: (column, (AS_OF - timedelta(days=days)).isoformat(), 2)
                       for table, (column, days) in expected.items()}
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        for table in expected:
            assert con.sql(f"select count(*) from {table}").fetchall()[0][0] == 1, table
        assert con.sql("select count(*) from agg_not_a_rollup").fetchall()[0][0] == 1


@pytest.mark.dbt
def test_retention_deletes_expired_raw_events_from_the_staging_tables(warehouses, tmp_path):
    """A staging table that copies raw events (meta retention: raw) loses each type's rows older than the family's
    raw window, the rows the lake itself drops; other types' and newer rows stay."""
    data = tmp_path / "data"
    (data / "dbt").mkdir(parents=True)
    (data / "dbt" / "target").symlink_to(warehouses.get(PARSED).data_dir / "dbt" / "target")
    copies = {path.stem: path.parent.name for path in sorted(ROOT.glob("models/staging/*/*.sql"))
              if "'retention': 'raw'" in path.read_text()}
    assert {"stg_gameplay__events", "stg_learning__events"} <= copies.keys()
    kept = {}
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        for table, family in copies.items():
            days = json.loads((ROOT / "schemas" / family / "_family.json").read_text())["retention_days"]["raw"]
            cutoff = AS_OF - timedelta(days=days)
            types = sorted(p.name for p in (ROOT / "schemas" / family).iterdir() if p.is_dir())
            con.execute(f"create table {table} (event_type varchar, event_date date)")
            for event_type in types[:2]:  # one row on the cutoff (kept), two before it (dropped)
                con.execute(f"insert into {table} values (?, ?), (?, ?), (?, ?)",
                            [event_type, cutoff, event_type, cutoff - timedelta(days=1),
                             event_type, cutoff - timedelta(days=300)])
            kept[table] = (cutoff, types[:2])
    drops = retention.apply(Registry.load(ROOT / "schemas"), Lake(data / "lake"), AS_OF, data / "warehouse.duckdb")
    planned = sorted((d.target, d.event_type, d.cutoff, d.rows) for d in drops if d.layer == "staging")
    assert planned == sorted((table, event_type, cutoff.isoformat(), 2)
                             for table, (cutoff, types) in kept.items() for event_type in types)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        for table, (cutoff, types) in kept.items():
            assert con.sql(f"select event_type, event_date from {table} order by 1").fetchall() == \
                [(t, cutoff) for t in types]
