"""docs/requirements/ability.md (ability metrics) as producers write it: the §7 JSON line, which carries no version field, lands
under the family's declared default version (§7 shape, docs/requirements/design.md#server-fills); §3 keys and §11 hard-fail hold."""

from __future__ import annotations

import json
from datetime import datetime

from conformance_support import as_json_line, fixture_text, ingest_lines, keyed_hash, landed, quarantine

AS_OF = "2025-01-01T19:30:00Z"  # the §7 line's ts 1735758392 is 2025-01-01T19:06:32Z


def test_s7_json_line_lands_as_printed(tmp_path):
    line = as_json_line(fixture_text("seed001_s7_json_line.txt"))
    row = ingest_lines(tmp_path / "d", tmp_path, "s7.jsonl", [line], AS_OF)
    assert (row["records_read"], row["landed"], row["quarantined"], row["dropped"]) == (1, 1, 0, 0), row["output"]
    assert row["server_filled"] == 1
    [event] = landed(tmp_path / "d", "ability_metric_summary")
    assert event["occurred_at"] == datetime(2025, 1, 1, 19, 6, 32)
    assert (event["schema_version"], event["schema_version_source"]) == ("1.1", "server")
    assert event["occurred_at_source"] == "event"
    assert event["player_key"] == keyed_hash("h:3ad91f...")
    assert event["entry"] == "contract.blood_pact"
    assert (event["metrics"]["casts"], event["metrics"]["healing_total"], event["metrics"]["participants"]) == (1, 42.0, 3.0)


def test_s7_a_version_that_is_sent_and_unknown_is_still_unknown_schema_version(tmp_path):
    event = {**json.loads(fixture_text("seed001_s7_json_line.txt")), "v": 9}
    row = ingest_lines(tmp_path / "d", tmp_path, "v9.jsonl", [json.dumps(event)], AS_OF)
    assert (row["landed"], row["quarantined"]) == (0, 1)
    assert quarantine(tmp_path / "d")[0]["reason"] == "unknown_schema_version"


def test_s11_an_unknown_metric_key_is_a_hard_fail(tmp_path):
    event = json.loads(fixture_text("seed001_s7_json_line.txt"))
    event["metrics"]["made_up_metric"] = 1
    row = ingest_lines(tmp_path / "d", tmp_path, "unknown.jsonl", [json.dumps(event)], AS_OF)
    assert row["quarantined"] == 1
    assert quarantine(tmp_path / "d")[0]["reason"] == "schema_violation"


def test_s3_every_core_metric_key_is_in_the_registry(registry):
    keys = ("casts uptime_seconds damage_total damage_true_total healing_total overheal_total lifesteal_heal "
            "cc_applied_count cc_full_duration_count resource_generated resource_spent internal_cooldown_hits "
            "participants meteor_count clone_count entity_spawns execution_count revive_count dash_distance_total "
            "pull_events reflect_count").split()
    assert len(keys) == 21  # the §3 table
    metrics = registry.families["ability"].latest("metric_summary").document["properties"]["metrics"]["properties"]
    assert set(keys) <= set(metrics)


def test_s10_opt_out_removes_the_per_player_row_but_keeps_the_counters(tmp_path):
    data = tmp_path / "d"
    (data / "privacy").mkdir(parents=True)
    (data / "privacy" / "opt_out.txt").write_text("h:3ad91f...\n")
    opted = as_json_line(fixture_text("seed001_s7_json_line.txt"))
    other = json.dumps({**json.loads(opted), "player": "h:other", "metrics": {"casts": 2, "healing_total": 8}})
    row = ingest_lines(data, tmp_path, "optout.jsonl", [opted, other], AS_OF)
    assert (row["landed"], row["dropped"], row["quarantined"]) == (2, 0, 0), row["output"]
    rows = {r["player_key"]: r for r in landed(data, "ability_metric_summary")}
    assert set(rows) == {None, keyed_hash("h:other")}
    anonymous = rows[None]
    assert anonymous["hash_key_id"] is None  # nothing ties the row to a player
    assert sum(r["metrics"]["casts"] for r in rows.values()) == 3  # the entry's counters still count both
    assert sum(r["metrics"]["healing_total"] for r in rows.values()) == 50.0
