"""docs/requirements/recsys.md (recsys): every key field the seed lists per event lands; user and session ids are hashed; the
sanitized error message lands as its length only."""

from __future__ import annotations

from conformance_support import FIXTURES, ingest, keyed_hash, landed

AS_OF = "2025-12-01T12:30:00Z"
KEY_FIELDS = {  # "Event Schema Highlights": key fields per event
    "request": ["request_id", "user_id", "experiment_id", "bucket", "filters", "k"],
    "ranking": ["request_id", "latency_ms", "coverage", "algorithm", "alpha", "items"],
    "impression": ["request_id", "canonical_id", "position", "visible_ms", "surface"],
    "click": ["request_id", "canonical_id", "engagement_type", "dwell_ms"],
    "error": ["timestamp_ms", "component", "severity", "error_code", "message"],
}
PII_FIELDS = {"request": ["user_id"], "ranking": ["user_id"], "impression": ["user_id", "session_id", "device_type"],
              "click": ["user_id", "session_id", "device_type"], "error": []}


def test_key_fields_and_pii_fields_are_in_the_registry(registry):
    for event_type, fields in KEY_FIELDS.items():
        properties = registry.families["recsys"].latest(event_type).document["properties"]
        assert set(fields) | set(PII_FIELDS[event_type]) <= set(properties), event_type


def test_one_event_per_type_with_its_key_fields_lands(tmp_path):
    row = ingest(tmp_path / "d", FIXTURES / "seed003_key_fields.jsonl", AS_OF)
    assert (row["records_read"], row["landed"], row["quarantined"], row["dropped"]) == (5, 5, 0, 0), row["output"]
    [request] = landed(tmp_path / "d", "recsys_request")
    assert request["player_key"] == keyed_hash("u-seed003-frank")
    assert request["session_id"] == keyed_hash("s-seed003-frank-1")
    [ranking] = landed(tmp_path / "d", "recsys_ranking")
    assert (ranking["latency_ms"], ranking["coverage"], ranking["algorithm"]) == (38.5, 0.42, "bts")
    [error] = landed(tmp_path / "d", "recsys_error")
    assert error["message_length"] == len("ranker exceeded 200 ms budget") and "message" not in error
    assert error["severity"] == "critical"
