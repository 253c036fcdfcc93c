"""Real analytics SDKs from PyPI, unchanged, pointed at `telemetry serve` on loopback. Each SDK sends one event of
every family (gameplay, ability, politics, recsys, learning) named after a registry type with properties that fit
it, resends the gameplay one with the same id, sends one gameplay event that misses a required field and carries
an extra one, and one name the registry does not know. Every fitting event lands once with the SDK's own id as
its event id; the misfit is quarantined as schema_violation pointing at both fields; the unknown name as
unknown_event_type."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import uuid
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import requests

from collector_support import HASH_KEY, lake_counts, quarantine_reasons

pytestmark = pytest.mark.slow

REQUEST_ID = "0c9e7a52-1f3b-4d6a-9e8f-2b1c3d4e5f60"


def fitting(user: str) -> dict[str, tuple[str, dict]]:
    """Lake event type → (SDK event name, properties that fit the registry type), one per family."""
    return {
        "gameplay_ability_cast": ("ability_cast", {"session_id": "sess-" + user, "ability_id": "fireball",
                                                   "encounter_tier": "boss"}),  # boss casts are kept at 100 %
        "ability_metric_summary": ("metric_summary", {"shard": "world-1", "entry": "ability.whirl",
                                                      "metrics": {"casts": 2}, "meta": {"tier": 2}}),
        "politics_bill_vote": ("Bill Vote", {"billId": "HB-1001", "stance": "YEA", "seatWeight": 1.5}),
        "recsys_click": ("click", {"request_id": REQUEST_ID, "canonical_id": "item-7", "engagement_type": "click"}),
        "learning_choice_made": ("Choice Made", {"session_id": "sess-" + user, "choice": "left"}),
    }


def misfit(user: str) -> tuple[str, dict]:
    """A gameplay ability_cast without its required ability_id and with a property the type does not have."""
    return "ability_cast", {"session_id": "sess-" + user, "colour": "red"}


def player_key(user: str) -> str:
    return hmac.new(HASH_KEY.encode(), user.encode(), hashlib.sha256).hexdigest()


def lake_rows(data_dir: Path) -> dict[str, list[dict]]:
    """Lake event type → its rows (event id, player key, and gameplay's client_guid / seq)."""
    out: dict[str, list[dict]] = {}
    con = duckdb.connect()
    try:
        for table in sorted((data_dir / "lake" / "events").glob("event_type=*")):
            files = [str(p) for p in table.glob("event_date=*/*.parquet")]
            extra = ", client_guid, seq" if table.name.startswith("event_type=gameplay_") else ""
            if files:
                relation = con.execute(f"select event_id, player_key{extra} from read_parquet(?, union_by_name=true)",
                                       [files])
                names = [d[0] for d in relation.description]
                out[table.name.split("=", 1)[1]] = [dict(zip(names, row)) for row in relation.fetchall()]
    finally:
        con.close()
    return out


def quarantine_errors(data_dir: Path, reason: str) -> list[tuple[str, set[tuple[str, str]]]]:
    """(event type, {(pointer, keyword)}) of every quarantine row with ``reason``."""
    out = []
    for path in sorted((data_dir / "lake" / "quarantine").glob("*.parquet")):
        if not path.name.startswith("_"):
            for row in pq.read_table(path, columns=["reason", "event_type", "errors"]).to_pylist():
                if row["reason"] == reason:
                    out.append((row["event_type"], {(e["pointer"], e["keyword"]) for e in row["errors"]}))
    return out


def finish(server, user: str, ids: dict[str, str], device: str | None) -> None:
    """Stop the server (it lands its spool) and check the lake and the quarantine against what was sent."""
    assert server.stop(signal.SIGTERM) == 0, server.log.read_text()
    rows = lake_rows(server.data_dir)
    assert {t: [r["event_id"] for r in found] for t, found in rows.items()} == {t: [i] for t, i in ids.items()}, \
        server.log.read_text()
    assert {r["player_key"] for found in rows.values() for r in found} == {player_key(user)}  # hashed, never raw
    [gameplay] = rows["gameplay_ability_cast"]
    assert (gameplay["client_guid"], gameplay["seq"]) == (device, None)  # the SDK's device id, no sequence number
    assert lake_counts(server.data_dir)["duplicates"] == 1  # the resent gameplay event
    assert sorted(quarantine_reasons(server.data_dir)) == ["schema_violation", "unknown_event_type"]
    [(event_type, errors)] = quarantine_errors(server.data_dir, "schema_violation")
    assert event_type == "gameplay_ability_cast"
    assert {("/ability_id", "required"), ("/colour", "additionalProperties")} <= errors


def send_all(user: str, send) -> dict[str, str]:
    """Send every fitting event (the gameplay one twice, same id), the misfit and an unknown name through
    ``send(name, properties, event_id)``; returns lake event type → the id sent."""
    ids = {}
    for lake_type, (name, properties) in fitting(user).items():
        ids[lake_type] = str(uuid.uuid4())
        send(name, properties, ids[lake_type])
    send(*fitting(user)["gameplay_ability_cast"], ids["gameplay_ability_cast"])  # a resend
    send(*misfit(user), str(uuid.uuid4()))
    send("Level Up", {"level": 3}, str(uuid.uuid4()))
    return ids


def test_segment_events_of_every_family_land_once_and_misfits_point_at_fields(start_server, tokens):
    from segment.analytics import Client

    server = start_server()
    client = Client(write_key=tokens.ingest_only, host=server.url, sync_mode=True, gzip=True, max_retries=0,
                    timeout=5, on_error=lambda error, batch: pytest.fail(f"segment: {error}"))
    ids = send_all("seg-user", lambda name, properties, event_id: client.track(
        "seg-user", name, properties, message_id=event_id, anonymous_id="device-seg",
        context={"ip": "203.0.113.9"}))
    client.flush()
    finish(server, "seg-user", ids, "device-seg")


def test_rudderstack_events_of_every_family_land_once_and_misfits_point_at_fields(start_server, tokens):
    from rudderstack.analytics.client import Client

    server = start_server()
    client = Client(write_key=tokens.ingest_only, host=server.url, sync_mode=True, max_retries=0, timeout=5,
                    on_error=lambda error, batch: pytest.fail(f"rudderstack: {error}"))
    ids = send_all("rud-user", lambda name, properties, event_id: client.track(
        "rud-user", name, properties, message_id=event_id, anonymous_id="device-rud"))
    client.flush()
    finish(server, "rud-user", ids, "device-rud")


def test_posthog_events_of_every_family_land_once_and_misfits_point_at_fields(start_server, tokens):
    from posthog import Posthog

    server = start_server()
    client = Posthog(tokens.ingest_only, host=server.url, sync_mode=True, max_retries=0, gzip=True, timeout=5,
                     disable_geoip=True, enable_exception_autocapture=False)
    ids = send_all("ph-user", lambda name, properties, event_id: client.capture(
        name, distinct_id="ph-user", uuid=event_id, properties={**properties, "$device_id": "device-ph"}))
    client.flush()
    client.shutdown()
    finish(server, "ph-user", ids, "device-ph")


def test_mixpanel_events_of_every_family_land_once_and_misfits_point_at_fields(start_server, tokens):
    from mixpanel import Consumer, Mixpanel

    server = start_server()
    client = Mixpanel(tokens.ingest_only, consumer=Consumer(events_url=server.url + "/track", retry_limit=0,
                                                            request_timeout=5))
    ids = send_all("mp-user", lambda name, properties, event_id: client.track(
        "mp-user", name, {**properties, "$insert_id": event_id, "$device_id": "device-mp"}))
    finish(server, "mp-user", ids, "device-mp")


def test_amplitude_events_of_every_family_land_once_and_misfits_point_at_fields(start_server, tokens):
    from amplitude import Amplitude, BaseEvent, Config

    server = start_server()
    client = Amplitude(tokens.ingest_only, configuration=Config(server_url=server.url + "/2/httpapi",
                                                                flush_queue_size=100, flush_max_retries=1))
    ids = send_all("amp-user", lambda name, properties, event_id: client.track(BaseEvent(
        name, user_id="amp-user", device_id="device-amp", insert_id=event_id, event_properties=properties)))
    client.flush()
    client.shutdown()
    finish(server, "amp-user", ids, "device-amp")


def test_snowplow_events_of_every_family_land_once_and_misfits_point_at_fields(start_server, tokens):
    from snowplow_tracker import Emitter, SelfDescribingJson, Subject, Tracker
    from snowplow_tracker.events import SelfDescribing

    server = start_server()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {tokens.ingest_only}"  # Snowplow has no key of its own
    sent: list[tuple[str, dict]] = []
    post = session.post

    def recording_post(url, *args, **kwargs):
        sent.append((url, kwargs))
        return post(url, *args, **kwargs)

    session.post = recording_post
    host, port = server.url.removeprefix("http://").split(":")
    emitter = Emitter(host, protocol="http", port=int(port), method="post", batch_size=1, session=session,
                      on_failure=lambda count, failed: pytest.fail(f"snowplow: {count} sent, failed {failed}"))
    subject = Subject().set_user_id("sp-user").set_domain_user_id("device-sp")
    tracker = Tracker("game", emitters=emitter, subject=subject)
    names: list[str] = []

    def send(name: str, properties: dict, _: str) -> None:
        # the tracker makes its own event id (eid); a resend is the emitter posting the same payload again
        if names and name == names[0] and len(names) == len(fitting("sp-user")):
            url, kwargs = sent[0]
            assert post(url, **kwargs).status_code == 200
            names.append(name)
            return
        names.append(name)
        tracker.track(SelfDescribing(SelfDescribingJson(f"iglu:com.acme/{name.lower().replace(' ', '_')}/"
                                                        "jsonschema/1-0-0", properties)))
        tracker.flush()

    send_all("sp-user", send)
    eids = [json.loads(kwargs["data"])["data"][0]["eid"] for _, kwargs in sent]
    finish(server, "sp-user", dict(zip(fitting("sp-user"), eids)), "device-sp")
