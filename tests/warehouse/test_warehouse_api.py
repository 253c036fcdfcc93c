"""``ingest.warehouse``: read a published mart as polars, SQL over the published marts, describe, CLI."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from ingest import warehouse
from ingest.cli import main

pytestmark = [pytest.mark.dbt]


def test_read_returns_the_mart_as_polars(built):
    daily = warehouse.read("agg_recsys_daily", built.data_dir)
    assert isinstance(daily, pl.DataFrame)
    assert {"event_date", "experiment_id", "bucket", "impressions", "clicks", "ctr"} <= set(daily.columns)
    assert "position" not in daily.columns  # the breakdown by slot is agg_recsys_positions_daily
    assert daily.schema["event_date"] == pl.Date
    assert warehouse.read("agg_recsys_daily", built.data_dir, columns=["bucket", "clicks"]).columns == ["bucket", "clicks"]


def test_read_names_the_published_marts_when_one_is_missing(built):
    with pytest.raises(warehouse.MartNotFound, match="agg_recsys_daily") as caught:
        warehouse.read("agg_nope_daily", built.data_dir)
    assert "fct_recsys_requests" in caught.value.available


def test_sql_runs_over_the_published_marts_and_matches_polars(built):
    by_sql = warehouse.sql("""
        select bucket, sum(clicks) as clicks, sum(impressions) as impressions, sum(clicks) / sum(impressions) as ctr
        from agg_recsys_daily
        group by bucket
        order by bucket
    """, built.data_dir)
    by_polars = (warehouse.read("agg_recsys_daily", built.data_dir)
                 .group_by("bucket").agg(pl.col("clicks").sum(), pl.col("impressions").sum()).sort("bucket"))
    assert by_sql["bucket"].to_list() == by_polars["bucket"].to_list() == ["control", "treatment"]
    assert by_sql["clicks"].to_list() == by_polars["clicks"].to_list()
    assert by_sql["impressions"].to_list() == by_polars["impressions"].to_list()
    # independent of dbt: every landed impression is in the rollup exactly once (5 per request, 180 requests)
    facts = warehouse.sql("select count(*) as n from fct_recsys_impressions", built.data_dir)
    assert sum(by_sql["impressions"]) == facts["n"][0] == 5 * 180
    joined = warehouse.sql("select count(*) as n from fct_recsys_requests inner join agg_recsys_daily using (event_date, "
                           "experiment_id, bucket) where requests >= ?", built.data_dir, params=[1])
    assert joined["n"][0] == 180
    slots = warehouse.sql("select sum(impressions) as n from agg_recsys_positions_daily", built.data_dir)
    assert slots["n"][0] == 5 * 180


def test_describe_gives_grain_and_columns(built):
    text = warehouse.describe("agg_recsys_daily", built.data_dir)
    assert "Grain: one row per (event_date, experiment_id, bucket)\n" in text
    assert "ctr" in text and "DOUBLE" in text and "Click-through rate" in text


def test_default_data_dir_follows_the_environment(monkeypatch, built):
    monkeypatch.setenv("TELEMETRY_DATA_DIR", str(built.data_dir))
    assert warehouse.default_data_dir() == built.data_dir
    assert warehouse.read("dq_ingest_daily").height > 0
    monkeypatch.delenv("TELEMETRY_DATA_DIR")
    assert warehouse.default_data_dir() == Path("data")  # the CLI's --data-dir default: ./data


def test_publish_command(built):
    result = CliRunner().invoke(main, ["publish", "--data-dir", str(built.data_dir)])
    assert result.exit_code == 0, result.output
    assert "agg_recsys_daily" in result.output and "published" in result.output


def test_publish_command_without_a_warehouse_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["publish", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "telemetry dbt build" in result.output
