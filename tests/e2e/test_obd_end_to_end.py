"""The real Open Bandit sample through the whole spine: import → ingest → dbt build → agg_recsys_daily (and
agg_recsys_positions_daily).

Expected clicks, impressions and CTR per bucket per day (and per position) are computed here with polars
straight from the CSVs in ../shared/data/obd, never from the pipeline.
"""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import numpy as np
import polars as pl
import pytest
from scipy import stats

from ingest.privacy import IdentityHasher, Keyring
from ingest.importers.obd import import_obd
from ingest.pipeline import ingest_files, ingest_settings
from ingest.registry import Registry
from ingest.config import PROJECT_ROOT
from ingest.warehouse import run_dbt
from support import require_shared_data

pytestmark = [pytest.mark.dbt]


@pytest.fixture(scope="module")
def obd_warehouse(tmp_path_factory):
    sample = require_shared_data("obd")
    data = tmp_path_factory.mktemp("obd")
    import_obd(sorted(sample.glob("*/all/all.csv")), data / "import")
    registry = Registry.load(PROJECT_ROOT / "schemas")
    settings = ingest_settings(data, registry, Keyring.single(IdentityHasher.demo()), datetime.now(timezone.utc),
                               backfill=True)
    results = ingest_files(sorted((data / "import").glob("*.jsonl")), settings, data, registry=registry).batches
    run_dbt(["build", "--select", "+agg_recsys_daily", "+agg_recsys_positions_daily", "+agg_recsys_weekly",
             "+agg_recsys_monthly", "+fct_recsys_experiment_results"], data, quiet=True)
    return sample, data, results


def expected_from_csv(sample, by_position: bool) -> pl.DataFrame:
    frames = []
    for policy in ("random", "bts"):
        frame = pl.read_csv(sample / policy / "all" / "all.csv", columns=["timestamp", "position", "click"])
        frames.append(frame.with_columns(pl.lit(policy).alias("bucket")))
    keys = ["event_date", "bucket"] + (["position"] if by_position else [])
    return (
        pl.concat(frames)
        .with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC").dt.date().alias("event_date"))
        .group_by(keys)
        .agg(pl.len().alias("impressions"), pl.col("click").sum().alias("clicks"))
        .with_columns((pl.col("clicks") / pl.col("impressions")).alias("ctr"))
        .sort(keys)
    )


def actual(data, query: str) -> pl.DataFrame:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        return pl.from_arrow(con.sql(query).to_arrow_table())


def test_every_line_landed(obd_warehouse):
    sample, _, results = obd_warehouse
    rows = sum(pl.read_csv(sample / p / "all" / "all.csv", columns=["click"]).height for p in ("random", "bts"))
    clicks = sum(int(pl.read_csv(sample / p / "all" / "all.csv", columns=["click"])["click"].sum()) for p in ("random", "bts"))
    assert sum(r.records_read for r in results) == 3 * rows + clicks
    assert sum(r.landed for r in results) == 3 * rows + clicks
    assert all(r.quarantined == r.duplicates == r.dropped == 0 for r in results)


def test_ctr_per_bucket_per_day(obd_warehouse):
    sample, data, _ = obd_warehouse
    expected = expected_from_csv(sample, by_position=False)
    got = actual(data, "select event_date, bucket, impressions, clicks, ctr from agg_recsys_daily "
                       "where experiment_id = 'obd-all' order by event_date, bucket")
    assert got.height == expected.height == 14  # 7 days × 2 buckets
    assert got.select("event_date", "bucket", "impressions", "clicks").rows() == \
        expected.select("event_date", "bucket", "impressions", "clicks").rows()
    assert got["ctr"].to_list() == pytest.approx(expected["ctr"].to_list(), rel=1e-12)


def test_ctr_per_bucket_per_day_per_position(obd_warehouse):
    sample, data, _ = obd_warehouse
    expected = expected_from_csv(sample, by_position=True)
    got = actual(data, "select event_date, bucket, position, impressions, clicks, ctr "
                       "from agg_recsys_positions_daily order by event_date, bucket, position")
    assert got.select("event_date", "bucket", "position", "impressions", "clicks").rows() == \
        expected.select("event_date", "bucket", "position", "impressions", "clicks").rows()
    assert got["ctr"].to_list() == pytest.approx(expected["ctr"].to_list(), rel=1e-12)


def test_weekly_ctr_is_exact_not_an_average_of_daily_ratios(obd_warehouse):
    sample, data, _ = obd_warehouse
    daily = expected_from_csv(sample, by_position=False)
    weekly = (daily.with_columns(pl.col("event_date").dt.truncate("1w").alias("week_start"))
              .group_by("week_start", "bucket").agg(pl.col("impressions").sum(), pl.col("clicks").sum())
              .with_columns((pl.col("clicks") / pl.col("impressions")).alias("ctr")).sort("week_start", "bucket"))
    got = actual(data, "select week_start, bucket, impressions, clicks, ctr from agg_recsys_weekly "
                       "where experiment_id = 'obd-all' order by week_start, bucket")
    assert got.select("week_start", "bucket", "impressions", "clicks").rows() == \
        weekly.select("week_start", "bucket", "impressions", "clicks").rows()
    assert got["ctr"].to_list() == pytest.approx(weekly["ctr"].to_list(), rel=1e-12)


def test_experiment_readout_bts_against_random(obd_warehouse):
    """bts vs random over the whole sample (the cumulative row of the last week): each logged row is its own
    unit (no user ids), so CTR's delta-method variance is the sample variance of the clicks over n."""
    sample, data, _ = obd_warehouse
    clicks = {p: pl.read_csv(sample / p / "all" / "all.csv", columns=["click"])["click"].to_numpy().astype(float)
              for p in ("random", "bts")}
    lift = clicks["bts"].mean() - clicks["random"].mean()
    se = np.sqrt(clicks["bts"].var(ddof=1) / len(clicks["bts"]) + clicks["random"].var(ddof=1) / len(clicks["random"]))
    z975 = stats.norm.ppf(0.975)
    got = actual(data, "select * from fct_recsys_experiment_results where experiment_id = 'obd-all' and metric = 'ctr' "
                       "and period_grain = 'cumulative' order by week_start desc limit 1").to_dicts()[0]
    assert (got["control_bucket"], got["treatment_bucket"], got["randomization_unit"]) == ("random", "bts", "request")
    assert (got["control_units"], got["treatment_units"]) == (len(clicks["random"]), len(clicks["bts"]))
    assert got["absolute_lift"] == pytest.approx(lift, rel=1e-9)
    assert got["relative_lift"] == pytest.approx(lift / clicks["random"].mean(), rel=1e-9)
    assert got["ci_low"] == pytest.approx(lift - z975 * se, rel=1e-9)
    assert got["ci_high"] == pytest.approx(lift + z975 * se, rel=1e-9)
    assert got["p_value"] == pytest.approx(2 * stats.norm.sf(abs(lift / se)), rel=1e-9)
    counts = [len(clicks["random"]), len(clicks["bts"])]
    assert got["srm_p_value"] == pytest.approx(stats.chisquare(counts).pvalue, rel=1e-9)
    assert got["cuped_absolute_lift"] is None  # no users, no pre-period
