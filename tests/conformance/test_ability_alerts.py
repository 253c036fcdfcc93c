"""docs/requirements/ability.md#alerts "avg dmg_per_cast > 1.25× tier baseline over 50 casts" in the warehouse: the 50 casts are a
rolling count per entry and tier (the rule's window, 7 days in seed ability_alert_rules), not a filter on one
day's row, and a day that arrives late changes the windows that hold it. Expected alerts are worked out by hand
from the lines below."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import duckdb
import pytest

from conformance_support import ingest_lines
from ingest.warehouse import run_dbt

pytestmark = [pytest.mark.dbt]
BUILD = ["build", "--select", "+fct_ability_alerts", "--exclude-resource-type", "test",
         "--exclude-resource-type", "unit_test"]


def day_of_casts(day: int, entry: str = "ability.arc_bolt") -> list[str]:
    """30 casts on 2025-01-0<day> (three summaries of 10 casts at 160 damage per cast), tier 1: the tier's
    baseline is 120, so the limit is 1.25 × 120 = 150 and every day is over it."""
    start = int(datetime(2025, 1, day, 10, tzinfo=timezone.utc).timestamp())
    return [json.dumps({"ts": start + 60 * n, "shard": "world-1", "player": f"h:player-{n}", "entry": entry,
                        "metrics": {"casts": 10, "damage_total": 1600.0}, "meta": {"tier": 1}})
            for n in range(3)]


def alerts(data) -> dict[str, float]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("select event_date, casts, observed_value, limit_value from fct_ability_alerts "
                       "where rule_id = 'high_damage_per_cast' and entry = 'ability.arc_bolt'").fetchall()
    assert all(observed == 160.0 and limit == 150.0 for _, _, observed, limit in rows)
    return {day.isoformat(): casts for day, casts, _, _ in rows}


def test_s9_an_entry_with_30_casts_a_day_alerts_once_the_rolling_count_passes_50(tmp_path):
    data = tmp_path / "d"
    for day in (1, 3):
        row = ingest_lines(data, tmp_path, f"day{day}.jsonl", day_of_casts(day), f"2025-01-0{day}T23:00:00Z")
        assert row["landed"] == 3, row["output"]
    run_dbt(BUILD, data, quiet=True)
    # Jan 1: 30 casts in its window, under 50; Jan 3: its window (Dec 28 – Jan 3) holds Jan 1 and Jan 3, 60 casts
    assert alerts(data) == {"2025-01-03": 60.0}
    # Jan 2 arrives late: its own window holds 60 casts, and Jan 3's now 90
    row = ingest_lines(data, tmp_path, "day2.jsonl", day_of_casts(2), "2025-01-03T23:30:00Z")
    assert row["landed"] == 3, row["output"]
    run_dbt(BUILD, data, quiet=True)
    assert alerts(data) == {"2025-01-02": 60.0, "2025-01-03": 90.0}
