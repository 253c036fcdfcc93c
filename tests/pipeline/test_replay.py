"""Quarantine replay: lines that pass today's registry land once; the rest stay with their current reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
from click.testing import CliRunner

from ingest.cli import main

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2024-11-24T12:00:00+00:00"


def click_event(version: str, **extra) -> dict:
    return {"event_type": "click", "schema_version": version, "timestamp_ms": 1732406403100,
            "request_id": "9b2f3c1e-6a4d-4f8e-9c2b-1d5e7f9a0b3c", "user_id": "u-1", "canonical_id": "item-14",
            "engagement_type": "click", **extra}


def add_minor_version(schemas: Path) -> None:
    base = schemas / "recsys" / "click" / "1.0.json"
    document = json.loads(base.read_text())
    document["$id"] = document["$id"].replace("/1.0.json", "/1.1.json")
    document["x-telemetry"]["version"] = document["properties"]["schema_version"]["const"] = "1.1"
    document["properties"]["referrer"] = {"type": "string"}
    document["examples"] = [click_event("1.1", referrer="home")]
    (base.parent / "1.1.json").write_text(json.dumps(document))


def test_replay_lands_what_now_passes_once(tmp_path):
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    data = tmp_path / "data"
    lines = [click_event("1.0"), click_event("1.1", referrer="home", canonical_id="item-2"), "{broken"]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    run = CliRunner().invoke(main, ["ingest", str(source), "--data-dir", str(data), "--schemas", str(schemas), "--as-of", AS_OF])
    assert "landed 1 + quarantined 2" in run.output

    add_minor_version(schemas)
    replay = ["quarantine", "replay", "--data-dir", str(data), "--schemas", str(schemas)]
    first = CliRunner().invoke(main, replay)
    assert first.exit_code == 0, first.output
    assert "replayed 2 = landed 1 + quarantined 1 + duplicates 0 + dropped 0 (still quarantined: invalid_json 1)" in first.output
    clicks = duckdb.sql(f"select schema_version, referrer from read_parquet('{data}/lake/*/event_type=recsys_click/*/*.parquet', "
                        "hive_partitioning = true, union_by_name = true) order by 1").fetchall()
    assert clicks == [("1.0", None), ("1.1", "home")]
    remaining = duckdb.sql(f"select reason, line_number from read_parquet('{data}/lake/quarantine/*.parquet')").fetchall()
    assert remaining == [("invalid_json", 3)]

    second = CliRunner().invoke(main, replay)
    assert "landed 0" in second.output and "quarantined 1 " in second.output
    assert duckdb.sql(f"select count(*) from read_parquet('{data}/lake/events/*/*/*.parquet')").fetchall() == [(2,)]


def test_replay_uses_the_original_arrival_clock(tmp_path):
    """A line quarantined on arrival for an unknown version is not turned into too_late by a later replay."""
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    data = tmp_path / "data"
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(click_event("1.1", referrer="x")) + "\n")
    CliRunner().invoke(main, ["ingest", str(source), "--data-dir", str(data), "--schemas", str(schemas), "--as-of", AS_OF])
    add_minor_version(schemas)
    result = CliRunner().invoke(main, ["quarantine", "replay", "--data-dir", str(data), "--schemas", str(schemas)])
    assert "landed 1" in result.output  # today is years after 2024-11-24, yet the event was on time when it came
    assert not list((data / "lake" / "quarantine").glob("[!_]*.parquet"))
