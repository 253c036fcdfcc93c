"""The recsys marts on a tiny lake: values against an independent polars computation and hand-checked numbers,
then a late batch (incremental pass) and a lookback pass.

Run alone with ``pytest tests/warehouse -m dbt`` (the tests needing dbt) or ``-m "not dbt"`` (the rest).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

# Fixtures and the lake writer live in conftest.py (session fixtures built_lake, incremental_lake, …; each
# is a conftest.Snapshot with .events, .quarantine and .tables).
REPO = Path(__file__).resolve().parents[2]
Snapshot = Any

KEYS = ["event_date", "experiment_id", "bucket"]
COUNTS = ["requests", "impressions", "clicks", "errors", "items_shown", "catalog_items"]
MEASURES = [*COUNTS, "ctr", "coverage", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate",
            "impressions_per_request", "mean_dwell_ms"]
B2_FINISHED = datetime(2024, 3, 6, 0, 31)
B3_FINISHED = datetime(2024, 3, 7, 0, 31)


# --- independent computation of the marts from the landed rows ----------------------------------------------
def _events(events: list[dict[str, Any]], kind: str) -> pl.DataFrame:
    """Rows of one type, deduplicated by event_id: earliest received_at, then batch_id."""
    rows = [e for e in events if e["event_type"] == f"recsys_{kind}"]
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.sort(["received_at", "batch_id"]).unique("event_id", keep="first", maintain_order=True)


def _first(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    return frame.sort(["occurred_at", "received_at", "event_id"]).unique(key, keep="first", maintain_order=True)


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    return (pl.when(pl.col(denominator) > 0)
            .then(pl.col(numerator).cast(pl.Float64) / pl.col(denominator)).otherwise(None))


def _with_ratios(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        ctr=_ratio("clicks", "impressions"),
        coverage=_ratio("items_shown", "catalog_items"),
        error_rate=_ratio("errors", "requests"),
        impressions_per_request=_ratio("impressions", "requests"),
    )


def _percentiles(column: str) -> list[pl.Expr]:
    return [pl.col(column).quantile(q, interpolation="linear").alias(f"latency_p{int(q * 100)}_ms")
            for q in (0.5, 0.95, 0.99)]


def reference_facts(events: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(requests, impressions, errors) attributed to their request's date, experiment and bucket."""
    request = _first(_events(events, "request"), "request_id").select(
        "request_id", pl.col("event_date").alias("request_date"),
        pl.col("experiment_id").alias("request_experiment"), pl.col("bucket").alias("request_bucket"))
    ranking = _first(_events(events, "ranking"), "request_id").select("request_id", "latency_ms", "catalog_size")
    requests = request.join(ranking, on="request_id", how="left").rename(
        {"request_date": "event_date", "request_experiment": "experiment_id", "request_bucket": "bucket"})

    key = pl.concat_str([pl.col("request_id"), pl.lit("/"), pl.col("canonical_id")]).alias("impression_key")
    impression = _first(_events(events, "impression").with_columns(key), "impression_key")
    click = _first(_events(events, "click").with_columns(key), "impression_key").select(
        "impression_key", pl.col("dwell_ms").cast(pl.Int64), pl.lit(True).alias("is_clicked"))

    def attribute(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.join(request, on="request_id", how="left").with_columns(
            event_date=pl.coalesce("request_date", "event_date"),
            experiment_id=pl.coalesce("request_experiment", "experiment_id", pl.lit("(unattributed)")),
            bucket=pl.coalesce("request_bucket", "bucket", pl.lit("(unattributed)")),
        )

    impressions = (attribute(impression.select("impression_key", "request_id", "event_date", "experiment_id",
                                               "bucket", "canonical_id", "position"))
                   .join(click, on="impression_key", how="left")
                   .join(ranking.select("request_id", "catalog_size"), on="request_id", how="left")
                   .with_columns(pl.col("is_clicked").fill_null(False)))
    errors = attribute(_events(events, "error").select("event_id", "request_id", "event_date", "experiment_id",
                                                        "bucket"))
    return requests, impressions, errors


def reference_daily(events: list[dict[str, Any]]) -> pl.DataFrame:
    """agg_recsys_daily: every measure of a (day, experiment, bucket) over all positions."""
    requests, impressions, errors = reference_facts(events)
    request_totals = requests.group_by(KEYS).agg(
        pl.len().alias("requests"), pl.col("catalog_size").max().alias("catalog_items"), *_percentiles("latency_ms"))
    impression_totals = impressions.group_by(KEYS).agg(
        pl.len().alias("impressions"), pl.col("is_clicked").sum().alias("clicks"),
        pl.col("canonical_id").n_unique().alias("items_shown"),
        pl.col("dwell_ms").filter(pl.col("is_clicked")).mean().alias("mean_dwell_ms"))
    error_totals = errors.group_by(KEYS).agg(pl.len().alias("errors"))
    groups = pl.concat([t.select(KEYS) for t in (request_totals, impression_totals, error_totals)]).unique()
    all_positions = (groups.join(request_totals, on=KEYS, how="left").join(impression_totals, on=KEYS, how="left")
                     .join(error_totals, on=KEYS, how="left")
                     .with_columns(*[pl.col(c).fill_null(0) for c in ("requests", "impressions", "clicks",
                                                                      "items_shown", "errors")]))
    columns = [*KEYS, "requests", "impressions", "clicks", "items_shown", "catalog_items", "errors",
               "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "mean_dwell_ms"]
    return _with_ratios(all_positions.select(columns).cast({c: pl.Int64 for c in COUNTS}))


def reference_positions(events: list[dict[str, Any]]) -> pl.DataFrame:
    """agg_recsys_positions_daily: the impression measures per slot; requests = requests that showed an item there."""
    _, impressions, _ = reference_facts(events)
    counts = ["requests", "impressions", "clicks", "items_shown", "catalog_items", "position"]
    return impressions.group_by([*KEYS, "position"]).agg(
        pl.col("request_id").n_unique().alias("requests"), pl.len().alias("impressions"),
        pl.col("is_clicked").sum().alias("clicks"), pl.col("canonical_id").n_unique().alias("items_shown"),
        pl.col("catalog_size").max().alias("catalog_items"),
        pl.col("dwell_ms").filter(pl.col("is_clicked")).mean().alias("mean_dwell_ms"),
    ).cast({c: pl.Int64 for c in counts}).with_columns(ctr=_ratio("clicks", "impressions"),
                                                       coverage=_ratio("items_shown", "catalog_items"))


def period_start(day: date, period: str) -> date:
    return day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)


def reference_period(events: list[dict[str, Any]], period: str) -> pl.DataFrame:
    """Weekly/monthly rollup computed from the request/impression level directly (not from daily rows)."""
    column = f"{period}_start"
    requests, impressions, errors = reference_facts(events)

    def by_period(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.col("event_date").map_elements(lambda d: period_start(d, period),
                                                                    return_dtype=pl.Date).alias(column))

    keys = [column, "experiment_id", "bucket"]
    request_totals = by_period(requests).group_by(keys).agg(
        pl.len().alias("requests"), pl.col("catalog_size").max().alias("catalog_items"), *_percentiles("latency_ms"))
    impression_totals = by_period(impressions).group_by(keys).agg(
        pl.len().alias("impressions"), pl.col("is_clicked").sum().alias("clicks"),
        pl.col("canonical_id").n_unique().alias("items_shown"),
        pl.col("dwell_ms").filter(pl.col("is_clicked")).mean().alias("mean_dwell_ms"))
    error_totals = by_period(errors).group_by(keys).agg(pl.len().alias("errors"))
    groups = pl.concat([t.select(keys) for t in (request_totals, impression_totals, error_totals)]).unique()
    frame = (groups.join(request_totals, on=keys, how="left").join(impression_totals, on=keys, how="left")
             .join(error_totals, on=keys, how="left")
             .with_columns(*[pl.col(c).fill_null(0) for c in ("requests", "impressions", "clicks", "items_shown",
                                                               "errors")])
             .cast({c: pl.Int64 for c in COUNTS}))
    return _with_ratios(frame)


def assert_frames_match(actual: pl.DataFrame, expected: pl.DataFrame, keys: list[str]) -> None:
    """Same rows (by key) and the same values: counts exactly, floats to 1e-9, nulls where expected."""
    columns = [c for c in expected.columns if c in MEASURES or c in keys]
    actual_rows = {tuple(r[k] for k in keys): r for r in actual.select(columns).iter_rows(named=True)}
    expected_rows = {tuple(r[k] for k in keys): r for r in expected.select(columns).iter_rows(named=True)}
    assert sorted(actual_rows, key=str) == sorted(expected_rows, key=str)
    for key, want in expected_rows.items():
        got = actual_rows[key]
        for column in columns:
            if want[column] is None:
                assert got[column] is None, (key, column, got[column])
            elif isinstance(want[column], float):
                assert got[column] == pytest.approx(want[column], rel=1e-9), (key, column, got[column], want[column])
            else:
                assert got[column] == want[column], (key, column, got[column], want[column])


def rows(frame: pl.DataFrame, **filters: Any) -> list[dict[str, Any]]:
    for column, value in filters.items():
        frame = frame.filter(pl.col(column) == value)
    return frame.to_dicts()


def one(frame: pl.DataFrame, **filters: Any) -> dict[str, Any]:
    found = rows(frame, **filters)
    assert len(found) == 1, (filters, found)
    return found[0]


# --- the test double stays the real lake's twin --------------------------------------------------------------
def test_tiny_lake_columns_match_the_ingest_writer(tiny_lake_schemas):
    """The conftest writer uses the same Arrow schemas as the real ingest (registry + ingest.lake)."""
    ingest_lake = pytest.importorskip("ingest.lake")
    registry_module = pytest.importorskip("ingest.registry")
    registry = registry_module.Registry.load(REPO / "schemas")
    lake_types = registry.lake_types()
    for kind, schema in tiny_lake_schemas["events"].items():
        assert lake_types[f"recsys_{kind}"].arrow_schema.remove_metadata().equals(schema), kind
    assert ingest_lake.QUARANTINE_SCHEMA.equals(tiny_lake_schemas["quarantine"])
    assert ingest_lake.LEDGER_SCHEMA.equals(tiny_lake_schemas["ledger"])


# --- pass 1 --------------------------------------------------------------------------------------------------
@pytest.mark.dbt
def test_daily_matches_independent_computation(built_lake: Snapshot):
    assert_frames_match(built_lake.tables["agg_recsys_daily"], reference_daily(built_lake.events), KEYS)


@pytest.mark.dbt
def test_positions_match_independent_computation(built_lake: Snapshot):
    assert_frames_match(built_lake.tables["agg_recsys_positions_daily"], reference_positions(built_lake.events),
                        [*KEYS, "position"])


@pytest.mark.dbt
def test_daily_has_one_row_per_group_so_sums_count_once(built_lake: Snapshot):
    """No grain column to filter: summing agg_recsys_daily over its rows gives each impression once."""
    daily = built_lake.tables["agg_recsys_daily"]
    assert "position" not in daily.columns
    assert daily.select(KEYS).is_unique().all()
    assert daily["impressions"].sum() == reference_facts(built_lake.events)[1].height
    assert built_lake.tables["agg_recsys_positions_daily"]["impressions"].sum() == daily["impressions"].sum()


@pytest.mark.dbt
@pytest.mark.parametrize("period", ["week", "month"])
def test_weekly_and_monthly_match_independent_computation(built_lake: Snapshot, period: str):
    assert_frames_match(built_lake.tables[f"agg_recsys_{period}ly"], reference_period(built_lake.events, period),
                        [f"{period}_start", "experiment_id", "bucket"])


@pytest.mark.dbt
def test_daily_hand_checked_values(built_lake: Snapshot):
    daily = built_lake.tables["agg_recsys_daily"]
    # 2024-01-01 control: r1 (3 impressions, i2 clicked, 3000 ms) and r2 (2 impressions, i1 clicked at 00:00:10
    # on 01-02 — still r2's day); r1's ranking resent in b2 with latency 999 is a duplicate and ignored
    control = one(daily, event_date=date(2024, 1, 1), bucket="control")
    assert (control["requests"], control["impressions"], control["clicks"]) == (2, 5, 2)
    assert control["ctr"] == pytest.approx(0.4)
    assert control["latency_p50_ms"] == pytest.approx(50.0)  # median of 40 and 60
    assert control["latency_p95_ms"] == pytest.approx(40 + 0.95 * 20)
    assert control["items_shown"] == 4 and control["catalog_items"] == 20 and control["coverage"] == pytest.approx(0.2)
    assert control["mean_dwell_ms"] == pytest.approx(2000.0)  # (3000 + 1000) / 2
    assert control["errors"] == 0 and control["error_rate"] == 0.0
    assert control["impressions_per_request"] == pytest.approx(2.5)
    first_slot = one(built_lake.tables["agg_recsys_positions_daily"], event_date=date(2024, 1, 1), bucket="control",
                     position=1)
    assert (first_slot["requests"], first_slot["impressions"], first_slot["clicks"]) == (2, 2, 1)
    assert first_slot["ctr"] == pytest.approx(0.5) and "latency_p50_ms" not in first_slot
    # treatment: r3 showed 2 of 3 items, no click; its error e1 counts; ctr 0, error rate 1
    treatment = one(daily, event_date=date(2024, 1, 1), bucket="treatment")
    assert (treatment["requests"], treatment["impressions"], treatment["clicks"], treatment["errors"]) == (1, 2, 0, 1)
    assert treatment["ctr"] == 0.0 and treatment["error_rate"] == 1.0 and treatment["mean_dwell_ms"] is None
    # e2 names no request and no experiment: its own row, ctr and error_rate undefined
    orphan = one(daily, event_date=date(2024, 1, 1), bucket="(unattributed)")
    assert (orphan["requests"], orphan["errors"], orphan["ctr"], orphan["error_rate"]) == (0, 1, None, None)
    # 2024-01-02 treatment: r4 clicked twice, one click without dwell → mean dwell over the one that has it
    r4 = one(daily, event_date=date(2024, 1, 2), bucket="treatment")
    assert (r4["clicks"], r4["ctr"], r4["mean_dwell_ms"]) == (2, 1.0, 5000.0)


@pytest.mark.dbt
def test_weekly_is_exact_not_an_average_of_days(built_lake: Snapshot):
    week = one(built_lake.tables["agg_recsys_weekly"], week_start=date(2024, 1, 1), bucket="control")
    # requests r1, r2 (01-01) and r5 (01-02): latency 40, 60, 100
    assert week["requests"] == 3 and week["latency_p50_ms"] == pytest.approx(60.0)
    assert week["ctr"] == pytest.approx(2 / 6)  # 2 clicks of 6 impressions, not the mean of daily CTRs
    assert week["items_shown"] == 4  # i1..i4, counted once over the week
    month = one(built_lake.tables["agg_recsys_monthly"], month_start=date(2024, 2, 1))
    assert (month["bucket"], month["requests"], month["clicks"], month["catalog_items"]) == ("treatment", 1, 1, 30)
    assert one(built_lake.tables["agg_recsys_weekly"], week_start=date(2024, 1, 29))["requests"] == 1


@pytest.mark.dbt
def test_request_fact(built_lake: Snapshot, request_uuid):
    fact = built_lake.tables["fct_recsys_requests"]
    assert fact.height == 8 and fact["request_id"].n_unique() == 8
    r1 = one(fact, request_id=request_uuid("r1"))
    assert (r1["latency_ms"], r1["ranked_items"], r1["impressions"], r1["clicks"], r1["total_dwell_ms"]) == (
        40.0, 3, 3, 1, 3000)
    r2 = one(fact, request_id=request_uuid("r2"))
    assert r2["event_date"] == date(2024, 1, 1) and r2["clicks"] == 1
    assert one(fact, request_id=request_uuid("r3"))["errors"] == 1


@pytest.mark.dbt
def test_dq_ingest_daily(built_lake: Snapshot):
    dq = built_lake.tables["dq_ingest_daily"]
    impressions = one(dq, event_type="recsys_impression", event_date=date(2024, 1, 1))
    assert (impressions["landed"], impressions["quarantined"], impressions["quarantined_schema_violation"]) == (7, 1, 1)
    assert impressions["validity_rate"] == pytest.approx(7 / 8)
    unknown = one(dq, event_type="(unknown)")
    assert unknown["event_date"] == date(2024, 1, 3)  # unreadable time: dated by the day it was received
    assert (unknown["quarantined_invalid_json"], unknown["landed"], unknown["validity_rate"]) == (1, 0, 0.0)
    late = one(dq, event_type="recsys_click", event_date=date(2024, 1, 8))
    assert late["quarantined_too_late"] == 1 and late["validity_rate"] == 1.0  # timeliness is not validity
    assert dq["quarantined"].sum() == len(built_lake.quarantine)


# --- pass 2: a late batch about older dates -------------------------------------------------------------------
def _recomputed(snapshot: Snapshot, model: str) -> set[date]:
    """The keys the newest run of ``model`` recomputed, from the run manifest (incremental_manifest)."""
    runs = snapshot.tables["incremental_manifest"].filter(pl.col("model") == model).sort("run_started_at")
    assert not runs["full_build"][-1], f"{model}: the newest run was a full build"
    return {date.fromisoformat(key) for key in json.loads(runs["reprocess_keys"][-1])}


@pytest.mark.dbt
def test_incremental_pass_matches_independent_computation(incremental_lake: Snapshot):
    assert_frames_match(incremental_lake.tables["agg_recsys_daily"], reference_daily(incremental_lake.events), KEYS)
    assert_frames_match(incremental_lake.tables["agg_recsys_positions_daily"],
                        reference_positions(incremental_lake.events), [*KEYS, "position"])
    for period in ("week", "month"):
        assert_frames_match(incremental_lake.tables[f"agg_recsys_{period}ly"],
                            reference_period(incremental_lake.events, period),
                            [f"{period}_start", "experiment_id", "bucket"])


@pytest.mark.dbt
def test_incremental_pass_recomputes_only_touched_dates(built_lake: Snapshot, incremental_lake: Snapshot,
                                                       request_uuid):
    before, after = built_lake.tables, incremental_lake.tables
    # b3 landed in 01-02 only, but one of its clicks belongs to r1 of 01-01: both days are redone; lookback_days 7
    # before the newest date in the ledger (03-05) redoes 03-05 as well, to the same values
    assert _recomputed(incremental_lake, "agg_recsys_daily") == {date(2024, 1, 1), date(2024, 1, 2), date(2024, 3, 5)}
    assert same_rows(before["agg_recsys_daily"], after["agg_recsys_daily"], event_date=date(2024, 3, 5))
    # nothing touched 01-08 and 02-01: their rows are the very rows pass 1 wrote
    for untouched in (date(2024, 1, 8), date(2024, 2, 1)):
        assert same_rows(before["agg_recsys_daily"], after["agg_recsys_daily"], event_date=untouched)
    # the late request r8 and r5's error on 01-02; r1's late click on 01-01
    control_0102 = one(after["agg_recsys_daily"], event_date=date(2024, 1, 2), bucket="control")
    assert (control_0102["requests"], control_0102["clicks"], control_0102["errors"]) == (2, 1, 1)
    control_0101 = one(after["agg_recsys_daily"], event_date=date(2024, 1, 1), bucket="control")
    assert (control_0101["clicks"], control_0101["ctr"]) == (3, pytest.approx(0.6))
    assert one(after["fct_recsys_requests"], request_id=request_uuid("r1"))["clicks"] == 2

    assert _recomputed(incremental_lake, "agg_recsys_weekly") == {date(2024, 1, 1), date(2024, 3, 4)}
    assert same_rows(before["agg_recsys_weekly"], after["agg_recsys_weekly"], week_start=date(2024, 1, 8))
    week = one(after["agg_recsys_weekly"], week_start=date(2024, 1, 1), bucket="control")
    assert (week["requests"], week["impressions"], week["clicks"]) == (4, 8, 4)
    assert _recomputed(incremental_lake, "agg_recsys_monthly") == {date(2024, 1, 1), date(2024, 3, 1)}
    assert same_rows(before["agg_recsys_monthly"], after["agg_recsys_monthly"], month_start=date(2024, 2, 1))


@pytest.mark.dbt
def test_run_manifest_watermarks(built_lake: Snapshot, incremental_lake: Snapshot) -> None:
    """Each run of an incremental model records the newest ledger finish it processed (capped by its upstreams)."""
    for snapshot, finished in ((built_lake, B2_FINISHED), (incremental_lake, B3_FINISHED)):
        manifest = snapshot.tables["incremental_manifest"]
        newest = manifest.sort("run_started_at").group_by("model").last()
        assert set(newest["model"]) >= {"agg_recsys_daily", "agg_recsys_weekly", "fct_recsys_requests"}
        assert set(newest["watermark"]) == {finished}


def same_rows(before: pl.DataFrame, after: pl.DataFrame, **filters: Any) -> bool:
    return sorted(rows(before, **filters), key=str) == sorted(rows(after, **filters), key=str) and bool(
        rows(before, **filters))


# --- pass 3: retention expired a day, a full refresh would lose it --------------------------------------------
@pytest.mark.dbt
def test_full_refresh_refused_once_history_expired(incremental_lake: Snapshot, refused_full_refresh: Snapshot):
    assert refused_full_refresh.result.returncode != 0
    assert "would lose history" in refused_full_refresh.result.stdout
    assert refused_full_refresh.tables["agg_recsys_daily"].sort(KEYS).equals(
        incremental_lake.tables["agg_recsys_daily"].sort(KEYS))


# --- an empty lake ------------------------------------------------------------------------------------------
@pytest.mark.dbt
def test_empty_lake_builds(empty_lake: Snapshot):
    assert "Completed successfully" in empty_lake.result.stdout
    assert "agg_recsys_daily" in empty_lake.result.stdout
    for name, table in empty_lake.tables.items():
        assert table.height == 0 or name == "incremental_manifest", name
    # every incremental model recorded its first, full build, with no ledger batch processed yet (no watermark, or
    # the epoch when capped by an upstream model's)
    manifest = empty_lake.tables["incremental_manifest"]
    assert manifest["full_build"].all() and manifest["watermark"].fill_null(datetime(1970, 1, 1)).max() == datetime(1970, 1, 1)
