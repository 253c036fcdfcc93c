"""The designer-slice marts (docs/requirements/gameplay.md dashboards): combat success rate by encounter tier and XP velocity, per
day × class × region × playstyle, equal figures computed here with polars from the generated JSONL files — the
documented definitions (engage_enemy outcomes; sessions from session_start to session_end / session_crash; XP
of the xp_gain events the docs/requirements/gameplay.md#sampling sampling rule keeps; the slices of the player's first session) — never from
the pipeline."""

from __future__ import annotations

import hashlib
import hmac
import json

import duckdb
import polars as pl
import pytest

from support import GAMEPLAY_KEY, assert_frames_match

pytestmark = [pytest.mark.dbt]

SLICES = ["character_class", "region", "playstyle"]


def player_key(raw_id: str) -> str:
    return hmac.new(GAMEPLAY_KEY, raw_id.encode(), hashlib.sha256).hexdigest()


def sampled_in(raw_player_id: str, event_type: str, rate: float) -> bool:
    """docs/requirements/gameplay.md#sampling sampling as schemas/sampling.yml documents it: HMAC-SHA256 under the
    sampling secret (derived from
    the id key) of "<raw player id>|<event type>", as a 64-bit fraction, below rate."""
    secret = hmac.new(GAMEPLAY_KEY, b"telemetry sampling secret v1", hashlib.sha256).digest()
    digest = hmac.new(secret, f"{raw_player_id}|{event_type}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


@pytest.fixture(scope="module")
def events(gameplay_warehouse) -> pl.DataFrame:
    rows = [json.loads(line) for path in gameplay_warehouse.files for line in path.read_text().splitlines() if line]
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.with_columns(
        pl.from_epoch("ts_ms", time_unit="ms").alias("at"),
        pl.from_epoch("ts_ms", time_unit="ms").dt.date().alias("event_date"),
        pl.col("player_id").map_elements(player_key, return_dtype=pl.String).alias("player_key"))


@pytest.fixture(scope="module")
def slices(events) -> pl.DataFrame:
    """Per player: class, region and playstyle of the session_start of their first session."""
    return (events.filter(pl.col("event_type") == "session_start").sort("ts_ms", "seq")
            .group_by("player_key", maintain_order=True).first().select("player_key", *SLICES))


def mart(gameplay_warehouse, name: str) -> pl.DataFrame:
    with duckdb.connect(str(gameplay_warehouse.data_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(f"select * from {name}").pl()


def test_combat_success_rate_by_tier_and_slice(gameplay_warehouse, events, slices):
    engaged = (events.filter(pl.col("event_type") == "engage_enemy").drop(SLICES)
               .join(slices, on="player_key", how="left"))
    expected = (engaged.group_by("event_date", "encounter_tier", *SLICES)
                .agg(pl.col("player_key").n_unique().alias("distinct_players"),
                     pl.len().cast(pl.Int64).alias("engagements"),
                     (pl.col("outcome") == "win").sum().cast(pl.Int64).alias("wins"))
                .with_columns((pl.col("wins") / pl.col("engagements")).alias("combat_success_rate"),
                              # engage_enemy is kept whole (schemas/sampling.yml): reweighting changes nothing
                              pl.col("engagements").cast(pl.Float64).alias("engagements_estimated"),
                              pl.col("wins").cast(pl.Float64).alias("wins_estimated")))
    assert expected.height > 10 and set(expected["encounter_tier"]) == {"normal", "elite", "boss"}
    assert 0 < expected["combat_success_rate"].mean() < 1
    got = mart(gameplay_warehouse, "agg_gameplay_combat_daily")
    keys = ["event_date", "encounter_tier", *SLICES]
    assert_frames_match(got, expected.with_columns(pl.col("distinct_players").cast(pl.Int64)), keys)
    boss = got.filter(pl.col("encounter_tier") == "boss")
    assert (boss["wins"].sum() / boss["engagements"].sum()) < (got["wins"].sum() / got["engagements"].sum())


def test_xp_velocity_by_slice(gameplay_warehouse, events, slices):
    sessions = (events.group_by("player_key", "session_id")
                .agg(pl.col("at").filter(pl.col("event_type") == "session_start").min().alias("started_at"),
                     pl.col("at").filter(pl.col("event_type").is_in(["session_end", "session_crash"])).max()
                     .alias("ended_at")))
    assert sessions["started_at"].null_count() == 0 and sessions["ended_at"].null_count() == 0
    xp = events.filter(pl.col("event_type") == "xp_gain")
    kept = xp.filter(pl.Series([sampled_in(p, "xp_gain", 0.3) for p in xp["player_id"]]))
    assert 0 < kept.height < xp.height  # xp_gain is sampled at 30 %: some were dropped at ingest
    session_xp = kept.group_by("player_key", "session_id").agg(pl.col("amount").sum().cast(pl.Float64).alias("xp"))
    per_session = (sessions.join(session_xp, on=["player_key", "session_id"], how="left")
                   .join(slices, on="player_key", how="left")
                   .with_columns(pl.col("xp").fill_null(0.0),
                                 pl.col("started_at").dt.date().alias("event_date"),
                                 ((pl.col("ended_at") - pl.col("started_at")).dt.total_milliseconds() / 3_600_000)
                                 .alias("hours")))
    expected = (per_session.group_by("event_date", *SLICES)
                .agg(pl.col("player_key").n_unique().cast(pl.Int64).alias("distinct_players"),
                     pl.len().cast(pl.Int64).alias("sessions"),
                     pl.col("xp").sum().alias("xp_gained"),
                     (pl.col("xp").sum() / 0.3).alias("xp_gained_estimated"),
                     pl.col("hours").sum().alias("active_hours"))
                .with_columns((pl.col("xp_gained") / pl.col("active_hours")).alias("xp_per_active_hour"),
                              (pl.col("xp_gained_estimated") / pl.col("active_hours"))
                              .alias("xp_per_active_hour_estimated")))
    assert expected.height > 10 and expected["xp_gained"].sum() > 0
    got = mart(gameplay_warehouse, "agg_gameplay_xp_velocity_daily")
    assert_frames_match(got, expected, ["event_date", *SLICES], rel=1e-9)


def test_slices_are_the_cohort_slices_of_the_first_session(gameplay_warehouse, slices):
    """Both marts read their slices where agg_gameplay_cohorts does (dim_gameplay_players)."""
    activation = mart(gameplay_warehouse, "dim_gameplay_players").select("player_key", *SLICES)
    assert_frames_match(activation, slices, ["player_key"])
    combat = mart(gameplay_warehouse, "agg_gameplay_combat_daily")
    assert set(combat.select(SLICES).unique().rows()) <= set(slices.select(SLICES).unique().rows())
