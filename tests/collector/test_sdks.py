"""Real analytics SDKs from PyPI, unchanged, pointed at `telemetry serve` on loopback: every event they send is
landed (a registry event name) or quarantined as unknown_event_type (a name the registry does not know)."""

from __future__ import annotations

import hashlib
import hmac
import signal
import uuid
from pathlib import Path

import duckdb
import pytest
import requests

from collector_support import HASH_KEY, quarantine_reasons

pytestmark = pytest.mark.slow

KNOWN = 3  # events per SDK named after a registry type (learning choice_made)


def player_key(user: str) -> str:
    return hmac.new(HASH_KEY.encode(), user.encode(), hashlib.sha256).hexdigest()


def landed_for(data_dir: Path, user: str) -> list[tuple[str, str]]:
    """(event_id, session key) of learning rows of one user, read straight from the lake."""
    files = [str(p) for p in (data_dir / "lake" / "events").glob("event_type=learning_*/event_date=*/*.parquet")]
    if not files:
        return []
    con = duckdb.connect()
    try:
        return con.execute("select event_id, session_id from read_parquet(?, union_by_name=true) "
                           "where player_key = ?", [files, player_key(user)]).fetchall()
    finally:
        con.close()


def finish(server, user: str, event_ids: list[str] | None = None) -> None:
    assert server.stop(signal.SIGTERM) == 0, server.log.read_text()
    rows = landed_for(server.data_dir, user)
    assert len(rows) == KNOWN, server.log.read_text()
    assert {session for _, session in rows} == {player_key("sess-" + user)}  # session ids hashed too
    if event_ids is not None:
        assert sorted(e for e, _ in rows) == sorted(event_ids)
    assert quarantine_reasons(server.data_dir) == ["unknown_event_type"]


def test_segment(start_server, tokens):
    from segment.analytics import Client

    server = start_server()
    client = Client(write_key=tokens.ingest_only, host=server.url, sync_mode=True, gzip=True, max_retries=0,
                    timeout=5, on_error=lambda error, batch: pytest.fail(f"segment: {error}"))
    ids = [str(uuid.uuid4()) for _ in range(KNOWN)]
    for i, message_id in enumerate(ids):
        client.track("seg-user", "choice_made", {"session_id": "sess-seg-user", "choice": f"c{i}"},
                     message_id=message_id, context={"ip": "203.0.113.9"})
    client.track("seg-user", "Level Up", {"level": 3})
    client.flush()
    finish(server, "seg-user", ids)


def test_rudderstack(start_server, tokens):
    from rudderstack.analytics.client import Client

    server = start_server()
    client = Client(write_key=tokens.ingest_only, host=server.url, sync_mode=True, max_retries=0, timeout=5,
                    on_error=lambda error, batch: pytest.fail(f"rudderstack: {error}"))
    ids = [str(uuid.uuid4()) for _ in range(KNOWN)]
    for i, message_id in enumerate(ids):
        client.track("rud-user", "Choice Made", {"session_id": "sess-rud-user", "choice": f"c{i}"},
                     message_id=message_id)
    client.track("rud-user", "Level Up", {"level": 3})
    client.flush()
    finish(server, "rud-user", ids)


def test_posthog(start_server, tokens):
    from posthog import Posthog

    server = start_server()
    client = Posthog(tokens.ingest_only, host=server.url, sync_mode=True, max_retries=0, gzip=True, timeout=5,
                     disable_geoip=True, enable_exception_autocapture=False)
    ids = [str(uuid.uuid4()) for _ in range(KNOWN)]
    for i, event_id in enumerate(ids):
        client.capture("choice_made", distinct_id="ph-user", uuid=event_id,
                       properties={"$session_id": "sess-ph-user", "choice": f"c{i}"})
    client.capture("level up", distinct_id="ph-user", properties={"level": 3})
    client.flush()
    client.shutdown()
    finish(server, "ph-user", ids)


def test_mixpanel(start_server, tokens):
    from mixpanel import Consumer, Mixpanel

    server = start_server()
    client = Mixpanel(tokens.ingest_only, consumer=Consumer(events_url=server.url + "/track", retry_limit=0,
                                                            request_timeout=5))
    ids = [uuid.uuid4().hex for _ in range(KNOWN)]
    for i, insert_id in enumerate(ids):
        client.track("mp-user", "choice_made", {"session_id": "sess-mp-user", "choice": f"c{i}",
                                                "$insert_id": insert_id})
    client.track("mp-user", "Level Up", {"level": 3})
    finish(server, "mp-user", ids)


def test_amplitude(start_server, tokens):
    from amplitude import Amplitude, BaseEvent, Config

    server = start_server()
    client = Amplitude(tokens.ingest_only, configuration=Config(server_url=server.url + "/2/httpapi",
                                                                flush_queue_size=100, flush_max_retries=1))
    ids = [str(uuid.uuid4()) for _ in range(KNOWN)]
    for i, insert_id in enumerate(ids):
        client.track(BaseEvent("choice_made", user_id="amp-user", insert_id=insert_id,
                               event_properties={"session_id": "sess-amp-user", "choice": f"c{i}"}))
    client.track(BaseEvent("Level Up", user_id="amp-user", event_properties={"level": 3}))
    client.flush()
    client.shutdown()
    finish(server, "amp-user", ids)


def test_snowplow(start_server, tokens):
    from snowplow_tracker import Emitter, SelfDescribingJson, Subject, Tracker
    from snowplow_tracker.events import SelfDescribing, StructuredEvent

    server = start_server()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {tokens.ingest_only}"  # Snowplow has no key of its own
    host, port = server.url.removeprefix("http://").split(":")
    emitter = Emitter(host, protocol="http", port=int(port), method="post", batch_size=1, session=session,
                      on_failure=lambda count, failed: pytest.fail(f"snowplow: {count} sent, failed {failed}"))
    subject = Subject().set_user_id("sp-user")
    tracker = Tracker("game", emitters=emitter, subject=subject)
    for i in range(KNOWN):
        tracker.track(SelfDescribing(SelfDescribingJson("iglu:com.acme/choice_made/jsonschema/1-0-0",
                                                        {"session_id": "sess-sp-user", "choice": f"c{i}"})))
    tracker.track(StructuredEvent("progress", "Level Up", value=3))
    tracker.flush()
    finish(server, "sp-user")
