"""Native and docs/requirements/learning.md#apis endpoints: per-event answers, durable spool before the answer, landing exactly once."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from collector_support import bearer, lake_counts, landed_event_ids, learning_event, quarantine_reasons


def land(client) -> None:
    client.app.state.collector.land_own(rotate=True)


def spool_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((data_dir / "spool").glob("*.jsonl*")))


def test_v1_events_answers_per_event_and_the_lake_agrees(client, tokens, tmp_path):
    good = [learning_event(i) for i in range(3)]
    bad_schema = {**learning_event(10), "data": "not an object"}
    unknown = {**learning_event(11), "event_type": "teleport"}
    body = [good[0], bad_schema, good[1], unknown, 42, good[2]]
    response = client.post("/v1/events", json=body, headers=bearer(tokens.engineer))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"], answer["dropped"]) == (3, 3, 0)
    statuses = [r["status"] for r in answer["results"]]
    assert statuses == ["accepted", "rejected", "accepted", "rejected", "rejected", "accepted"]
    assert [r["event_id"] for r in answer["results"] if r["status"] == "accepted"] == ["evt-0", "evt-1", "evt-2"]
    by_index = {r["index"]: r for r in answer["results"]}
    assert by_index[1]["reason"] == "schema_violation"
    assert {"pointer": "/data", "keyword": "type"} == {k: by_index[1]["errors"][0][k] for k in ("pointer", "keyword")}
    assert by_index[3]["reason"] == "unknown_event_type"
    assert by_index[4]["reason"] == "not_an_object"
    land(client)
    assert sorted(landed_event_ids(tmp_path / "data")) == ["evt-0", "evt-1", "evt-2"]
    assert sorted(quarantine_reasons(tmp_path / "data")) == ["not_an_object", "schema_violation", "unknown_event_type"]
    counts = lake_counts(tmp_path / "data")
    assert (counts["records"], counts["landed"], counts["quarantined"]) == (6, 3, 3)


def test_acknowledged_means_already_in_the_spool(client, tokens, tmp_path):
    response = client.post("/api/v1/telemetry/events", json=learning_event(7), headers=bearer(tokens.engineer))
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    assert b'"event_id":"evt-7"' in spool_bytes(tmp_path / "data")  # on disk before anything landed
    assert lake_counts(tmp_path / "data")["batches"] == 0


def test_json_lines_and_gzip_bodies(client, tokens, tmp_path):
    lines = b"\n".join(orjson.dumps(learning_event(i)) for i in range(4)) + b"\n\nnot json at all\n"
    response = client.post("/v1/events", content=gzip.compress(lines),
                           headers={**bearer(tokens.engineer), "Content-Encoding": "gzip",
                                    "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (4, 1)
    assert response.json()["results"][4]["reason"] == "invalid_json"
    land(client)
    counts = lake_counts(tmp_path / "data")
    assert (counts["landed"], counts["quarantined"]) == (4, 1)


def test_landing_is_exactly_once_and_resent_events_are_duplicates(client, tokens, tmp_path):
    events = [learning_event(i) for i in range(5)]
    assert client.post("/v1/events", json=events, headers=bearer(tokens.engineer)).status_code == 200
    land(client)
    land(client)  # nothing left to land
    assert client.post("/v1/events", json=events[:2], headers=bearer(tokens.engineer)).status_code == 200
    land(client)
    counts = lake_counts(tmp_path / "data")
    assert (counts["batches"], counts["landed"], counts["duplicates"]) == (2, 5, 2)
    assert sorted(landed_event_ids(tmp_path / "data")) == [f"evt-{i}" for i in range(5)]
    assert not list((tmp_path / "data" / "spool").glob("*.jsonl*"))


def test_seed004_batch_and_its_limit(client, tokens, tmp_path):
    batch = {"batch_id": "batch-001", "client_version": "1.0.0",
             "events": [{k: v for k, v in learning_event(i).items() if k != "schema_version"} for i in range(2)]}
    response = client.post("/api/v1/telemetry/batch", json=batch, headers=bearer(tokens.engineer))
    assert response.status_code == 200, response.text
    assert response.json()["batch_id"] == "batch-001"
    assert (response.json()["accepted"], response.json()["rejected"]) == (2, 0)
    too_big = {**batch, "batch_id": "batch-002", "events": [learning_event(i) for i in range(1001)]}
    response = client.post("/api/v1/telemetry/batch", json=too_big, headers=bearer(tokens.engineer))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    assert "1000" in response.json()["error"]["message"]
    exactly = {**batch, "batch_id": "batch-003", "events": [learning_event(100 + i) for i in range(1000)]}
    assert client.post("/api/v1/telemetry/batch", json=exactly, headers=bearer(tokens.engineer)).json()["accepted"] == 1000
    land(client)
    counts = lake_counts(tmp_path / "data")
    assert (counts["records"], counts["landed"]) == (1002, 1002)  # the refused batch was never stored


def test_seed004_session_close(client, tokens, tmp_path):
    from datetime import datetime, timedelta, timezone

    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)
    times = [(base + timedelta(minutes=m)).isoformat().replace("+00:00", "Z") for m in (0, 5, 15)]
    events = [{**learning_event(i, session="session-789"), "timestamp": t} for i, t in enumerate(times)]
    events.append(learning_event(9, session="other"))
    assert client.post("/v1/events", json=events[1:] + events[:1], headers=bearer(tokens.engineer)).json()["accepted"] == 4
    response = client.post("/api/v1/telemetry/session/session-789/close", headers=bearer(tokens.engineer))
    assert response.status_code == 200, response.text
    assert response.json() == {"session_id": "session-789", "status": "closed",
                               "started_at": times[0], "ended_at": times[2],
                               "message": "Session closed; its behavioral features are extracted at the next "
                                          "warehouse build (dbt build)"}
    again = client.post("/api/v1/telemetry/session/session-789/close", headers=bearer(tokens.engineer))
    assert again.json() == response.json()
    closes = [p for p in (tmp_path / "data" / "lake" / "_closes").glob("*.parquet") if p.name != "_schema.parquet"]
    assert len(closes) == 1 and "session-789" not in closes[0].name  # recorded once, under the hashed id
    [row] = pq.read_table(closes[0]).to_pylist()
    assert row["events"] == 3 and b"session-789" not in closes[0].read_bytes()
    missing = client.post("/api/v1/telemetry/session/nope/close", headers=bearer(tokens.engineer))
    assert missing.status_code == 404


def test_health_and_docs(client):
    assert client.get("/health").json() == {"ok": True, "status": "ok"}
    assert client.get("/api/v1/health").json() == {"ok": True, "status": "ok"}  # the docs/requirements/learning.md path, no token
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/telemetry/events", "/api/v1/telemetry/batch", "/v1/events", "/v1/batch",
            "/api/v1/health"} <= set(paths)


def test_one_processor_with_a_moving_clock_answers_like_a_fresh_one(client, registry):
    """The collector reuses one LineProcessor and moves its clock per request; it must judge exactly like a
    processor built for that clock (guards the fields the clock touches)."""
    from dataclasses import replace
    from datetime import datetime, timedelta, timezone

    from ingest.pipeline.row import LineProcessor
    from ingest.pipeline.reader import Line

    collector = client.app.state.collector
    later = datetime.now(timezone.utc) + timedelta(days=5)
    events = [learning_event(1, timestamp=(later + timedelta(minutes=m)).isoformat().replace("+00:00", "Z"))
              for m in (-1, 4, 6, 60)]
    events.append(learning_event(2, timestamp=(later - timedelta(days=4)).isoformat().replace("+00:00", "Z")))
    lines = [orjson.dumps(e) for e in events]
    moved = [(a.status, a.reason) for a in collector.classify(lines, later)]
    fresh_processor = LineProcessor(registry, replace(collector.settings(), as_of=later))
    fresh = []
    for line in lines:
        outcome = fresh_processor.process_chunk([Line(1, line, len(line))], "batch", "source")
        fresh.append(("rejected", outcome.quarantine[0]["reason"]) if outcome.quarantine else ("accepted", None))
    assert moved == fresh
    assert moved == [("accepted", None), ("accepted", None), ("rejected", "future_timestamp"),
                     ("rejected", "future_timestamp"), ("rejected", "too_late")]
