"""docs/requirements/ability.md#emission-timing and §3 in the marts: a channel's tick and final snapshots count once (finals, or ticks when
no final exists), and the gauge `participants` aggregates as mean and max, never as a sum. Expected numbers are
worked out by hand from the lines below."""

from __future__ import annotations

import json

import duckdb
import pytest

from conformance_support import as_json_line, fixture_text, ingest_lines
from ingest.warehouse import run_dbt

pytestmark = [pytest.mark.dbt]
AS_OF = "2025-01-01T19:30:00Z"


def summary(ts: int, snapshot: str | None, activation: str | None, damage: float, participants: int, casts: int) -> str:
    event = {"ts": ts, "shard": "world-1", "player": "h:channeler", "entry": "ability.flame_channel",
             "metrics": {"casts": casts, "damage_total": damage, "participants": participants}, "meta": {"tier": 2}}
    if snapshot:
        event["snapshot"], event["activation_id"] = snapshot, activation
    return json.dumps(event)


def test_s5_ticks_and_final_count_once_and_s3_gauge_is_mean_and_max(tmp_path):
    data = tmp_path / "d"
    lines = [
        summary(1735758000, "tick", "act-1", 100.0, 2, 0),   # act-1 has a final: its ticks do not count
        summary(1735758001, "tick", "act-1", 120.0, 3, 0),
        summary(1735758002, "final", "act-1", 250.0, 4, 1),  # counts
        summary(1735758100, "tick", "act-2", 40.0, 5, 1),    # act-2 has no final: its ticks count
        summary(1735758101, "tick", "act-2", 60.0, 9, 0),
        summary(1735758200, None, None, 30.0, 1, 1),         # one-shot summary: counts
        as_json_line(fixture_text("seed001_s7_json_line.txt")),  # another entry
    ]
    row = ingest_lines(data, tmp_path, "channel.jsonl", lines, AS_OF)
    assert row["landed"] == 7, row["output"]
    run_dbt(["build", "--select", "+agg_ability_metrics_daily", "+agg_ability_metric_totals_daily",
             "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"], data, quiet=True)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        daily = con.sql("select events, casts, damage_total from main.agg_ability_metrics_daily "
                        "where entry = 'ability.flame_channel'").fetchall()
        gauge = con.sql("select events_reporting, observed_total, estimated_total, observed_mean, observed_max "
                        "from main.agg_ability_metric_totals_daily "
                        "where entry = 'ability.flame_channel' and metric_key = 'participants'").fetchall()
        damage = con.sql("select observed_total from main.agg_ability_metric_totals_daily "
                         "where entry = 'ability.flame_channel' and metric_key = 'damage_total'").fetchall()
    # counted: act-1 final (250, casts 1), act-2 ticks (40 + 60, casts 1 + 0), the one-shot (30, casts 1)
    assert daily == [(4, 3.0, 380.0)]
    assert damage == [(380.0,)]
    # participants of the counted summaries: 4, 5, 9, 1 → mean 4.75, max 9; no sum
    assert gauge == [(4, None, None, 4.75, 9.0)]
