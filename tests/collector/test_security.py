"""Tokens, scopes, limits and error answers: 401, 403, 413, 400, 429, never a 500 or a traceback."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from click.testing import CliRunner

from collector_support import bearer, learning_event

INGEST_ROUTES = ["/v1/events", "/api/v1/telemetry/events", "/api/v1/telemetry/batch", "/v1/batch", "/v1/track",
                 "/batch/", "/capture/", "/e/", "/track", "/import", "/2/httpapi", "/batch",
                 "/com.snowplowanalytics.snowplow/tp2"]


def test_tokens_file_holds_digests_only_and_the_cli_prints_the_token_last(tmp_path):
    from ingest.cli.main import main

    path = tmp_path / "tokens.json"
    result = CliRunner().invoke(main, ["tokens", "create", "dash", "--scope", "ingest,read", "--tier", "analyst",
                                       "--company", "c-9", "--tokens-file", str(path)])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("tlm_") and len(token) > 40
    stored = path.read_text()
    assert token not in stored
    import hashlib

    entry = json.loads(stored)["tokens"][0]
    assert entry == {**entry, "name": "dash", "sha256": hashlib.sha256(token.encode()).hexdigest(),
                     "scopes": ["ingest", "read"], "tier": "analyst", "company": "c-9"}
    assert (path.stat().st_mode & 0o077) == 0  # not readable by others
    again = CliRunner().invoke(main, ["tokens", "create", "dash", "--tokens-file", str(path)])
    assert again.exit_code == 2  # a taken name is a usage error


@pytest.mark.parametrize("route", INGEST_ROUTES)
def test_every_ingest_route_needs_a_token(client, route):
    response = client.post(route, json={"events": [], "batch": []})
    assert response.status_code in (401, 400)  # 400 only when the body cannot even be read as the SDK's payload
    if response.status_code == 400:
        pytest.fail(f"{route}: the body was judged before the caller: {response.text}")
    assert response.json()["ok"] is False and response.json()["error"]["code"] == "unauthorized"


def test_unknown_token_wrong_scope_and_bearer_on_sdk_paths(client, tokens):
    event = learning_event(1)
    assert client.post("/v1/events", json=[event], headers=bearer("tlm_wrong")).status_code == 401
    assert client.post("/v1/events", json=[event], headers=bearer(tokens.read_only)).status_code == 403
    assert client.get("/api/politics/telemetry/events", headers=bearer(tokens.ingest_only)).status_code == 403
    segment = {"batch": [{"type": "track", "event": "choice_made", "userId": "u1", "properties": {"session_id": "s"}}]}
    assert client.post("/v1/batch", json=segment, headers=bearer(tokens.engineer)).status_code == 200
    basic = base64.b64encode(f"{tokens.engineer}:".encode()).decode()
    assert client.post("/v1/batch", json=segment, headers={"Authorization": f"Basic {basic}"}).status_code == 200
    wrong = base64.b64encode(b"tlm_nope:").decode()
    assert client.post("/v1/batch", json=segment, headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    posthog = {"api_key": tokens.engineer, "batch": [{"event": "choice_made", "distinct_id": "u1", "properties": {}}]}
    assert client.post("/batch/", json=posthog).status_code == 200
    assert client.post("/batch/", json={**posthog, "api_key": tokens.read_only}).status_code == 403


def test_oversized_bodies_are_413(make_client, tokens):
    client = make_client(max_body_bytes=4096)
    big = [learning_event(i) for i in range(100)]
    response = client.post("/v1/events", json=big, headers=bearer(tokens.engineer))
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
    bomb = gzip.compress(b"[" + b" " * 2_000_000 + b"]")  # small on the wire, 2 MB decoded
    assert len(bomb) < 4096
    response = client.post("/v1/events", content=bomb, headers={**bearer(tokens.engineer), "Content-Encoding": "gzip"})
    assert response.status_code == 413


@pytest.mark.parametrize("body,code", [
    (b"{not json", "invalid_json"),
    (b"[1, 2", "invalid_json"),
    (b"", "empty_body"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt_gzip"),
])
def test_malformed_bodies_are_400_with_the_reason(client, tokens, body, code):
    route = "/v1/events" if code != "invalid_json" or body.startswith(b"[") else "/api/v1/telemetry/events"
    response = client.post(route, content=body, headers=bearer(tokens.engineer))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


def test_no_route_answers_500_or_a_traceback_to_junk(client, tokens):
    junk = [b"", b"null", b"[]", b"{}", b"[null]", b'{"batch": 5}', b'{"events": "x"}', b'{"data": [1]}',
            b'{"batch": [{"type": "track"}]}', b'{"events": [{"event_type": 5}]}', b"\xff\xfe\x00",
            b'{"e": "ue", "ue_px": "!!!"}', b'{"data": [{"e": "ue", "ue_pr": "{\\"data\\": 1}"}]}',
            b"data=%%%", b"data=bm90IGpzb24=", b'{"batch_id": 7, "events": []}', b"[" * 5000]
    for route in INGEST_ROUTES:
        for body in junk:
            response = client.post(route, content=body, headers=bearer(tokens.engineer))
            assert response.status_code < 500, (route, body, response.text)
            assert "Traceback" not in response.text and 'File "' not in response.text
    assert client.get("/i?e=ue&ue_px=%%%", headers=bearer(tokens.engineer)).status_code == 400
    assert client.get("/nope", headers=bearer(tokens.engineer)).status_code == 404


def test_per_token_rate_limit_is_429(make_client, tokens):
    client = make_client(token_rate=0.5, token_burst=3)
    codes = [client.post("/v1/events", json=[learning_event(i)], headers=bearer(tokens.engineer)).status_code
             for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    limited = client.post("/v1/events", json=[learning_event(9)], headers=bearer(tokens.engineer))
    assert int(limited.headers["Retry-After"]) >= 1
    other = client.post("/v1/events", json=[learning_event(10)], headers=bearer(tokens.ingest_only))
    assert other.status_code == 200  # the limit is per token


def test_lobby_attempt_rate_limit_per_player_is_429(client, tokens):
    from datetime import datetime, timezone

    def lobby(n: int, user: str) -> dict:
        return {"type": "LOBBY_ATTEMPT", "eventId": f"lobby-{user}-{n}", "userId": user, "companyId": "c1",
                "createdAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                "difficultyTier": 2, "success": True, "spend": 10}

    first = client.post("/v1/events", json=[lobby(i, "p1") for i in range(5)], headers=bearer(tokens.engineer))
    assert first.status_code == 200, first.text
    accepted = first.json()["accepted"]
    sixth = client.post("/v1/events", json=[lobby(5, "p1")], headers=bearer(tokens.engineer))
    if accepted == 5:  # the events are valid: the player's 6th within the minute is refused
        assert sixth.status_code == 429 and sixth.json()["error"]["code"] == "rate_limited"
        assert sixth.json()["error"]["event_type"] == "politics_lobby_attempt"
    else:
        pytest.fail(f"lobby events did not validate: {first.text}")
    other_player = client.post("/v1/events", json=[lobby(0, "p2")], headers=bearer(tokens.engineer))
    assert other_player.status_code == 200


def test_a_token_created_while_serving_works_within_a_second(client, tokens):
    import time

    from ingest.collector.tokens import TokenStore

    event = learning_event(1)
    new = TokenStore.load(tokens.path).create("late", ("ingest",))
    deadline = time.monotonic() + 5
    while client.post("/v1/events", json=[event], headers=bearer(new)).status_code == 401:
        assert time.monotonic() < deadline, "the new token was never picked up"
        time.sleep(0.2)
