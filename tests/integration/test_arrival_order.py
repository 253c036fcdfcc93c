"""Arrival order does not matter (issue: lifecycle): late data inside the T+2 window, shuffled batches, a file
sent twice, and `dbt build` after every batch end in the same marts, row for row, as one clean build."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import orjson
import pytest

from ingest.privacy import IdentityHasher, Keyring
from ingest.lake import Lake
from ingest.pipeline import BatchIngest, IngestSettings
from ingest.registry import Registry
from ingest.generate.synthetic import recsys_events
from ingest.config import PROJECT_ROOT
from ingest.warehouse import run_dbt

DAY_MS = 86_400_000
START = datetime(2024, 11, 20, tzinfo=timezone.utc)
SELECT = ["--select", "+agg_recsys_daily", "+agg_recsys_weekly", "+agg_recsys_monthly", "+dq_ingest_daily"]
MARTS = {
    "fct_recsys_requests": "request_id",
    "agg_recsys_daily": "event_date, experiment_id, bucket, position",
    "agg_recsys_weekly": "week_start, experiment_id, bucket",
    "agg_recsys_monthly": "month_start, experiment_id, bucket",
}


def write(path: Path, events: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def ingest(data: Path, path: Path, as_of: datetime, backfill: bool = False):
    registry = Registry.load(PROJECT_ROOT / "schemas")
    lake = Lake(data / "lake")
    lake.ensure_layout(registry)
    keyring = Keyring.single(IdentityHasher(b"arrival-order-test-key", "t"))
    with BatchIngest(registry, lake, IngestSettings.with_keyring(registry.root, keyring, as_of, backfill=backfill)) as runner:
        return runner.run(path)


def snapshot(data: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        out = {}
        for mart, order in MARTS.items():
            columns = [c for (c,) in con.sql(f"select column_name from information_schema.columns where table_name = '{mart}' "
                                             "order by ordinal_position").fetchall() if not c.startswith("_")]
            out[mart] = con.sql(f"select {', '.join(columns)} from {mart} order by {order}").fetchall()
        return out


@pytest.mark.slow
def test_incremental_builds_over_late_shuffled_batches_equal_one_clean_build(tmp_path):
    events = list(recsys_events(600, seed=5, start_ms=int(START.timestamp() * 1000), span_days=6))
    rng = random.Random(42)
    arrivals: dict[int, list[dict]] = {}
    for event in events:  # each event arrives on its own day or up to two days late (inside T+2)
        day = (event["timestamp_ms"] - int(START.timestamp() * 1000)) // DAY_MS
        arrivals.setdefault(day + rng.choice([0, 1, 2]), []).append(event)
    batches = []
    for day, group in sorted(arrivals.items()):
        rng.shuffle(group)
        batches.append((write(tmp_path / f"arrival-{day}.jsonl", group), START + timedelta(days=day + 1) - timedelta(seconds=1)))
    assert len(batches) >= 7

    incremental = tmp_path / "incremental"
    landed = 0
    order = batches[:2] + [batches[3], batches[2]] + batches[4:]  # two batches swapped: older data after newer
    for index, (path, as_of) in enumerate(order):
        result = ingest(incremental, path, as_of)
        assert result.quarantined == 0, result.quarantined_by_reason
        landed += result.landed
        if index % 2 == 1 or index == len(order) - 1:  # build after every other batch and at the end
            run_dbt(["build", *SELECT], incremental, quiet=True)
    resent = ingest(incremental, batches[1][0], batches[-1][1])
    assert resent.skipped
    run_dbt(["build", *SELECT], incremental, quiet=True)
    assert landed == len(events)

    clean = tmp_path / "clean"
    assert ingest(clean, write(tmp_path / "all.jsonl", events), batches[-1][1], backfill=True).landed == len(events)
    run_dbt(["build", *SELECT], clean, quiet=True)

    got, expected = snapshot(incremental), snapshot(clean)
    for mart in MARTS:
        assert expected[mart], f"{mart} is empty"
        assert got[mart] == expected[mart], mart
