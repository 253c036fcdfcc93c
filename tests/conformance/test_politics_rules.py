"""docs/requirements/politics.md (politics) as producers write it: the §3 outline and §2 taxonomy payloads, without the fields the
server fills (§6 step 3: "Normalize (add createdAt, metaVersion …)"), land; §9 anti-abuse holds at the door."""

from __future__ import annotations

import json
from datetime import datetime

from conformance_support import (balanced, fixture_text, ingest, ingest_lines, keyed_hash, landed, quarantine,
                                 FIXTURES)

AS_OF = "2026-11-20T09:30:00Z"
AS_OF_DT = datetime(2026, 11, 20, 9, 30)


def test_s3_outline_campaign_phase_change_lands_with_server_filled_created_at_and_meta_version(tmp_path):
    row = ingest(tmp_path / "d", FIXTURES / "seed000_s3_campaign_phase_change.jsonl", AS_OF)
    assert (row["records_read"], row["landed"]) == (1, 1), row["output"]
    assert row["server_filled"] == 1
    [event] = landed(tmp_path / "d", "politics_campaign_phase_change")
    assert event["occurred_at"] == AS_OF_DT  # createdAt = received_at (§6)
    assert event["received_at"] == AS_OF_DT
    assert event["occurred_at_source"] == "server"
    assert event["schema_version"] == "1.0" and event["schema_version_source"] == "server"
    assert (event["campaign_id"], event["phase_from"], event["phase_to"]) == ("camp-2025", "primary", "general")
    assert event["player_key"] == keyed_hash("u-seed000-alice")


def test_s3_outline_debate_result_participants_land_as_keyed_hashes(tmp_path):
    row = ingest(tmp_path / "d", FIXTURES / "seed000_s3_debate_result.jsonl", AS_OF)
    assert (row["records_read"], row["landed"], row["server_filled"]) == (1, 1, 1), row["output"]
    [event] = landed(tmp_path / "d", "politics_debate_result")
    assert event["participants"] == [keyed_hash("u-seed000-alice"), keyed_hash("u-seed000-bob")]
    assert event["persuasion_score"] == 71.5
    assert event["occurred_at_source"] == "server"


def test_s2_every_event_type_with_its_table_fields_lands_without_created_at_or_meta_version(tmp_path):
    lines = fixture_text("seed000_s2_taxonomy.jsonl").splitlines()
    assert len(lines) == 9  # the nine codes of the §2 table
    row = ingest(tmp_path / "d", FIXTURES / "seed000_s2_taxonomy.jsonl", AS_OF)
    assert (row["records_read"], row["landed"], row["quarantined"], row["dropped"]) == (9, 9, 0, 0), row["output"]
    assert row["server_filled"] == 9 and balanced(row)
    [debate] = landed(tmp_path / "d", "politics_debate_result")
    assert debate["participant_ids"] == [keyed_hash("u-seed000-carol"), keyed_hash("u-seed000-dave")]


def test_s3_base_fields_sent_by_the_producer_are_kept_and_recorded_as_sent(tmp_path):
    event = {**json.loads(fixture_text("seed000_s3_campaign_phase_change.jsonl")),
             "createdAt": "2026-11-20T08:00:00Z", "metaVersion": 1}
    row = ingest_lines(tmp_path / "d", tmp_path, "sent.jsonl", [json.dumps(event)], AS_OF)
    assert (row["landed"], row["server_filled"]) == (1, 0)
    [landed_row] = landed(tmp_path / "d", "politics_campaign_phase_change")
    assert landed_row["occurred_at"] == datetime(2026, 11, 20, 8, 0)
    assert (landed_row["occurred_at_source"], landed_row["schema_version_source"]) == ("event", "event")


def test_s6_a_meta_version_that_is_sent_and_unknown_is_still_unknown_schema_version(tmp_path):
    event = {**json.loads(fixture_text("seed000_s3_campaign_phase_change.jsonl")), "metaVersion": 7}
    row = ingest_lines(tmp_path / "d", tmp_path, "v7.jsonl", [json.dumps(event)], AS_OF)
    assert (row["landed"], row["quarantined"]) == (0, 1)
    assert [q["reason"] for q in quarantine(tmp_path / "d")] == ["unknown_schema_version"]


def test_s3_strict_typing_rejects_an_unknown_field_with_every_error(tmp_path):
    event = {**json.loads(fixture_text("seed000_s3_campaign_phase_change.jsonl")), "extra": 1, "phaseTo": 5}
    row = ingest_lines(tmp_path / "d", tmp_path, "bad.jsonl", [json.dumps(event)], AS_OF)
    assert row["quarantined"] == 1
    [bad] = quarantine(tmp_path / "d")
    assert bad["reason"] == "schema_violation"
    assert {e["keyword"] for e in bad["errors"]} >= {"additionalProperties", "type"}


def test_s9_lobby_attempt_bursts_over_the_per_user_rate_are_rejected_at_ingest_in_input_order(tmp_path):
    """Rate limit (schemas/politics/_family.json): at most 5 LOBBY_ATTEMPT of a user in (t − 60 s, t]."""
    lobby = json.loads(fixture_text("seed000_s2_taxonomy.jsonl").splitlines()[5])
    assert lobby["type"] == "LOBBY_ATTEMPT"
    lines = []
    for second in (0, 5, 10, 15, 20, 25, 30, 90):  # 6th and 7th within a minute of the first five: over
        lines.append(json.dumps({**lobby, "eventId": f"lob-{second}", "createdAt": f"2026-11-20T09:00:{second:02d}Z"
                                 if second < 60 else "2026-11-20T09:01:30Z"}))
    lines.append(json.dumps({**lobby, "userId": "u-seed000-other", "eventId": "lob-other",
                             "createdAt": "2026-11-20T09:00:31Z"}))  # another user: own budget
    row = ingest_lines(tmp_path / "d", tmp_path, "lobby.jsonl", lines, AS_OF)
    assert (row["records_read"], row["landed"], row["quarantined"]) == (9, 7, 2), row["output"]
    assert "rate_limited 2" in row["output"]
    rejected = sorted(q["reason"] for q in quarantine(tmp_path / "d"))
    assert rejected == ["rate_limited", "rate_limited"]
    kept = sorted(r["event_id"] for r in landed(tmp_path / "d", "politics_lobby_attempt"))
    # 09:01:30 counts only attempts after 09:00:30 that were accepted (none of the rejected two): it lands
    assert kept == ["lob-0", "lob-10", "lob-15", "lob-20", "lob-5", "lob-90", "lob-other"]
    again = ingest_lines(tmp_path / "e", tmp_path, "lobby2.jsonl", lines, AS_OF)
    assert (again["landed"], again["quarantined"]) == (7, 2)  # deterministic for the same input order
