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
    gameplay = mapper.to_wire(SdkEvent("xp_gain", "p1", "x-1", at, {"amount": 5}, "device-1"), at)
    assert gameplay == {"event_type": "xp_gain", "schema_version": "1.1", "ts_ms": 1_795_953_600_250,
                        "player_id": "p1", "event_id": "x-1", "client_guid": "device-1", "amount": 5}  # no seq
    ability = mapper.to_wire(SdkEvent("metric_summary", "p1", "a-1", at, {"entry": "ability.whirl"}), at)
    assert ability == {"v": 1.2, "ts": 1_795_953_600.25, "player": "p1", "event_id": "a-1",
                       "entry": "ability.whirl"}  # 1.2: the first version with a field for the SDK's id
    assert "v" not in mapper.to_wire(SdkEvent("metric_summary", "p1", None, at, {}), at)  # server fills 1.1
    unknown = mapper.to_wire(SdkEvent("Level Up", "u1", None, at, {"level": 3}), at)
    assert unknown == {"type": "LEVEL_UP", "createdAt": "2026-11-29T12:00:00.250Z", "userId": "u1", "level": 3}


def test_device_id_that_is_also_the_player_id_does_not_become_client_guid(registry):
    """An anonymous SDK user: its anonymous id is the player id (hashed); copied raw into client_guid it would
    land unhashed."""
    from ingest.collector.adapters import segment
    from ingest.collector.adapters.common import WireMapper

    [event] = segment.parse({"type": "track", "event": "xp_gain", "anonymousId": "anon-1", "messageId": "m-1",
                             "properties": {"amount": 1}}, "track")[0]
    wire = WireMapper(registry).to_wire(event, datetime(2026, 11, 29, tzinfo=timezone.utc))
    assert wire["player_id"] == "anon-1" and "client_guid" not in wire


def test_sdk_gameplay_event_lands_without_seq_and_misfits_point_at_each_field(client, tokens, tmp_path):
    """docs/requirements/gameplay.md gameplay through an SDK path: the event id stands for the (player, client_guid, seq) tuple; an
    event with neither is quarantined with the tuple's pointers, a wrong and an extra field with theirs."""
    import pyarrow.parquet as pq

    at = int(datetime.now(timezone.utc).timestamp() * 1000)

    def engage(insert_id, **properties):
        return {"event_type": "engage_enemy", "user_id": "amp-1", "time": at, **insert_id,
                "event_properties": {"session_id": "s", "enemy_type": "wolf", **properties}}

    events = [engage({"insert_id": "e-1"}), engage({}), engage({"insert_id": "e-3"}, enemy_type=7, bonus=1)]
    response = client.post("/2/httpapi", json={"api_key": tokens.ingest_only, "events": events})
    assert response.status_code == 200
    client.app.state.collector.land_own(rotate=True)
    assert landed_event_ids(tmp_path / "data") == ["e-1"]
    [path] = [p for p in (tmp_path / "data" / "lake" / "quarantine").glob("*.parquet") if not p.name.startswith("_")]
    rows = pq.read_table(path, columns=["reason", "event_type", "errors"]).to_pylist()
    assert [(r["reason"], r["event_type"]) for r in rows] == [("schema_violation", "gameplay_engage_enemy")] * 2
    assert [{(e["pointer"], e["keyword"]) for e in r["errors"]} for r in rows] == [
        {("/client_guid", "required"), ("/seq", "required")},
        {("/bonus", "additionalProperties"), ("/enemy_type", "type")}]
