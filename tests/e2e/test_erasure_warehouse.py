"""Erasure end to end: after `telemetry erase` and the rebuild of the affected dates, the player's key is in no
lake file, no quarantined line, no warehouse table and no published mart; the rollups lost exactly their rows."""

from __future__ import annotations


import duckdb
import orjson
from click.testing import CliRunner

from ingest.cli import main
from ingest.lifecycle import compact_warehouse, warehouse_rows
from ingest.privacy import IdentityHasher
from ingest.generate.synthetic import recsys_events
from ingest.warehouse import run_dbt

import pytest

pytestmark = [pytest.mark.dbt]

SELECT = ["--select", "+agg_recsys_daily", "+agg_recsys_positions_daily", "+agg_recsys_weekly", "+agg_recsys_monthly"]
KEY = "erasure-test-key-0123456789abcdef"


def test_erased_player_is_nowhere_and_rollups_follow(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEMETRY_HASH_KEY", KEY)
    monkeypatch.setenv("TELEMETRY_HASH_KEY_ID", "t")
    events = list(recsys_events(400, seed=3, start_ms=1_732_406_400_000, span_days=3))
    victim = "user-7"
    victim_requests = sum(1 for e in events if e["event_type"] == "request" and e.get("user_id") == victim)
    assert victim_requests > 0
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events) + b'{"user_id": "user-7", "broken\n')
    data = tmp_path / "d"
    result = CliRunner().invoke(main, ["ingest", str(source), "--data-dir", str(data), "--backfill"])
    assert result.exit_code == 0, result.output
    run_dbt(["build", *SELECT], data, quiet=True)
    key = IdentityHasher(KEY.encode(), "t").hash(victim)
    database = data / "warehouse.duckdb"
    assert sum(warehouse_rows(database, [key]).values()) > 0
    with duckdb.connect(str(database), read_only=True) as con:
        before = con.sql("select sum(requests) from agg_recsys_daily").fetchall()[0][0]

    erased = CliRunner().invoke(main, ["erase", "--player", victim, "--data-dir", str(data), "--no-build"])
    assert erased.exit_code == 0, erased.output
    assert "quarantine: 1 line(s) removed" in erased.output
    run_dbt(["build", *SELECT], data, quiet=True)  # re-aggregates exactly the dates the erasure touched
    compact_warehouse(database)  # what `telemetry erase` does after its build

    for path in data.rglob("*"):
        if path.is_file() and path.suffix in (".parquet", ".duckdb", ".jsonl", ".json"):
            content = path.read_bytes()
            assert key.encode() not in content and b'"user-7"' not in content, path
    assert sum(warehouse_rows(database, [key]).values()) == 0
    with duckdb.connect(str(database), read_only=True) as con:
        after = con.sql("select sum(requests) from agg_recsys_daily").fetchall()[0][0]
    assert before - after == victim_requests
