"""Adapter wire formats the SDK tests do not cover: Mixpanel base64 form data, Snowplow GET /i with ue_px,
Amplitude's /batch path, and the mapper onto each family's wire fields."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from urllib.parse import urlencode

from collector_support import bearer, lake_counts, landed_event_ids


def test_mixpanel_base64_form_data(client, tokens, tmp_path):
    events = [{"event": "choice_made", "properties": {"token": tokens.ingest_only, "distinct_id": "mp-1",
                                                      "time": int(datetime.now(timezone.utc).timestamp()),
                                                      "$insert_id": f"mp-b64-{i}", "session_id": "s1",
                                                      "mp_lib": "python"}} for i in range(2)]
    form = urlencode({"data": base64.b64encode(json.dumps(events).encode()).decode()})
    response = client.post("/import", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200 and response.json() == {"status": 1, "error": None}
    client.app.state.collector.land_own(rotate=True)
    assert sorted(landed_event_ids(tmp_path / "data")) == ["mp-b64-0", "mp-b64-1"]


def test_snowplow_get_pixel_with_base64_self_describing_event(client, tokens, tmp_path):
    inner = {"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
             "data": {"schema": "iglu:com.acme/choice_made/jsonschema/1-0-0",
                      "data": {"session_id": "s1", "choice": "left"}}}
    params = {"e": "ue", "ue_px": base64.urlsafe_b64encode(json.dumps(inner).encode()).decode().rstrip("="),
              "uid": "sp-1", "eid": "sp-get-1", "dtm": str(int(datetime.now(timezone.utc).timestamp() * 1000))}
    response = client.get("/i", params=params, headers=bearer(tokens.ingest_only))
    assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    client.app.state.collector.land_own(rotate=True)
    assert landed_event_ids(tmp_path / "data") == ["sp-get-1"]


def test_amplitude_batch_path(client, tokens, tmp_path):
    body = {"api_key": tokens.ingest_only, "events": [
        {"event_type": "choice_made", "user_id": "amp-1", "insert_id": "amp-b-1",
         "time": int(datetime.now(timezone.utc).timestamp() * 1000), "event_properties": {"session_id": "s"},
         "user_properties": {"email": "someone@example.com"}, "ip": "203.0.113.1"}]}
    response = client.post("/batch", json=body)
    assert response.status_code == 200 and response.json()["code"] == 200
    assert response.json()["events_ingested"] == 1
    client.app.state.collector.land_own(rotate=True)
    assert lake_counts(tmp_path / "data")["landed"] == 1
    spool_and_lake = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert b"someone@example.com" not in spool_and_lake and b"203.0.113.1" not in spool_and_lake


def test_mapper_shapes_each_family(registry):
    from ingest.collector.adapters.common import SdkEvent, WireMapper

    mapper = WireMapper(registry)
    at = datetime(2026, 11, 29, 12, 0, 0, 250000, tzinfo=timezone.utc)
    learning = mapper.to_wire(SdkEvent("MISSION START", "u1", "m-1", at, {"session_id": "s", "level": 2}), at)
    assert learning == {"event_type": "mission_start", "timestamp": "2026-11-29T12:00:00.250Z", "student_id": "u1",
                        "event_id": "m-1", "session_id": "s", "data": {"level": 2}}  # version: filled by the server
    politics = mapper.to_wire(SdkEvent("bill vote", "u1", "b-1", at, {"billId": "HB-1001"}), at)
    assert politics["type"] == "BILL_VOTE" and politics["userId"] == "u1" and politics["billId"] == "HB-1001"
    gameplay = mapper.to_wire(SdkEvent("xp_gain", "p1", "x-1", at, {"amount": 5}), at)
    assert gameplay["schema_version"] == "1.0" and gameplay["ts_ms"] == 1_795_953_600_250
    assert gameplay["player_id"] == "p1" and gameplay["amount"] == 5
    unknown = mapper.to_wire(SdkEvent("Level Up", "u1", None, at, {"level": 3}), at)
    assert unknown == {"type": "LEVEL_UP", "createdAt": "2026-11-29T12:00:00.250Z", "userId": "u1", "level": 3}
