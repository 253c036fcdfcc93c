"""What a hostile or careless client sends: multi-member gzip read whole, JSON nested too deep refused with 400 on
every route, odd SDK properties mapped without a crash, a refused request leaves nothing in the spool, content
types checked, an oversized header answered 431, and the API document true to the server."""

from __future__ import annotations

import base64
import errno
import gzip
import json
import threading
from datetime import datetime, timezone
from pathlib import Path

import httpx
import orjson
import pytest

from collector_support import bearer, landed_event_ids, learning_event, quarantine_reasons


def land(client) -> None:
    client.app.state.collector.land_own(rotate=True)


def spool_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((data_dir / "spool").glob("*.jsonl*")))


# --- gzip ------------------------------------------------------------------------------------------------------
def test_every_member_of_a_gzip_body_is_read(client, tokens, tmp_path):
    events = [learning_event(i) for i in range(4)]
    first = gzip.compress(b"\n".join(orjson.dumps(e) for e in events[:2]) + b"\n")
    second = gzip.compress(b"\n".join(orjson.dumps(e) for e in events[2:]) + b"\n")
    response = client.post("/v1/events", content=first + second,
                           headers={**bearer(tokens.engineer), "Content-Encoding": "gzip",
                                    "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 4
    land(client)
    assert sorted(landed_event_ids(tmp_path / "data")) == ["evt-0", "evt-1", "evt-2", "evt-3"]


def test_the_size_limit_counts_every_gzip_member(make_client, tokens, tmp_path):
    client = make_client(max_body_bytes=4096)
    member = gzip.compress(b" " * 3000 + b"\n")  # 3,001 bytes decoded, each member alone under the limit
    response = client.post("/v1/events", content=member + member,
                           headers={**bearer(tokens.engineer), "Content-Encoding": "gzip"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
    bomb = gzip.compress(b"[" + b" " * 50_000_000 + b"]")  # 50 MB decoded from ~50 KB
    response = client.post("/v1/events", content=member + bomb,
                           headers={**bearer(tokens.engineer), "Content-Encoding": "gzip"})
    assert response.status_code == 413
    junk = client.post("/v1/events", content=member + b"not gzip",
                       headers={**bearer(tokens.engineer), "Content-Encoding": "gzip"})
    assert junk.status_code == 400 and junk.json()["error"]["code"] == "corrupt_gzip"
    assert spool_bytes(tmp_path / "data") == b""


# --- JSON nested too deep ------------------------------------------------------------------------------------------
DEEP = "__deep__"


def deep_bodies(depth: int, key: str) -> list[tuple[str, str, dict]]:
    """(method, path, request keywords) of every ingest route, each carrying arrays nested ``depth`` levels deep
    in an event (written as text: no JSON writer nests that deep)."""
    deep = b"[" * depth + b"1" + b"]" * depth

    def text(value: object) -> bytes:
        raw = json.dumps(value).encode()
        return raw.replace(b'\\"%s\\"' % DEEP.encode(), deep).replace(b'"%s"' % DEEP.encode(), deep)

    def ue(payload: dict) -> str:
        return json.dumps({"schema": "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0",
                           "data": {"schema": "iglu:com.example/choice_made/jsonschema/1-0-0", "data": payload}})

    seed004 = {**learning_event(1), "data": {"deep": DEEP}}
    segment = {"type": "track", "event": "choice_made", "userId": "u1", "properties": {"deep": DEEP}}
    posthog = {"event": "choice_made", "distinct_id": "u1", "properties": {"deep": DEEP}}
    mixpanel = [{"event": "choice_made", "properties": {"distinct_id": "u1", "deep": DEEP}}]
    amplitude = {"events": [{"event_type": "choice_made", "user_id": "u1", "event_properties": {"deep": DEEP}}]}
    json_type = {"Content-Type": "application/json"}
    routes = [("/v1/events", [seed004]), ("/api/v1/telemetry/events", seed004),
              ("/api/v1/telemetry/batch", {"batch_id": "b1", "events": [seed004]}),
              ("/v1/batch", {"batch": [segment]}),
              *((f"/v1/{kind}", {**segment, "type": kind, "traits": {"deep": DEEP}})
                for kind in ("track", "identify", "page", "screen", "group", "alias")),
              *((path, {"api_key": key, "batch": [posthog]})
                for path in ("/batch/", "/capture/", "/e/", "/i/v0/e/", "/track/")),
              *((path, mixpanel) for path in ("/track", "/import", "/engage")),
              *((path, amplitude) for path in ("/2/httpapi", "/batch")),
              ("/com.snowplowanalytics.snowplow/tp2", {"data": [{"e": "ue", "uid": "u1", "ue_pr": ue({"deep": DEEP})}]})]
    out = [("POST", path, {"content": text(body), "headers": json_type}) for path, body in routes]
    out.append(("POST", "/v1/events", {"content": text(seed004), "headers": {}}))  # one JSON line
    pixel = text({"v": ue({"deep": DEEP})})[len(b'{"v": "'):-2].decode().encode().decode("unicode_escape")
    out.append(("GET", "/i", {"params": {"e": "ue", "uid": "u1",
                                         "ue_px": base64.urlsafe_b64encode(pixel.encode()).decode()}}))
    return out


@pytest.mark.parametrize("depth", [260, 1000])
def test_json_nested_too_deep_is_400_on_every_route(client, tokens, tmp_path, depth):
    nested = b"[" * depth + b"1" + b"]" * depth
    with pytest.raises(orjson.JSONEncodeError):  # the premise: the parser reads it, the writer cannot
        orjson.dumps(orjson.loads(nested))
    for method, path, request in deep_bodies(depth, tokens.engineer):
        headers = {**bearer(tokens.engineer), **request.pop("headers", {})}
        response = client.request(method, path, headers=headers, **request)
        assert response.status_code == 400, (path, response.status_code, response.text[:300])
        assert response.json()["error"]["code"] == "too_deep", (path, response.text[:300])
        assert "254" in response.json()["error"]["message"]
    assert spool_bytes(tmp_path / "data") == b""


def test_json_the_parser_refuses_is_400_too(client, tokens):
    too_deep_to_parse = b"[" * 1100 + b"]" * 1100
    for path in ("/v1/events", "/api/v1/telemetry/events", "/v1/batch", "/2/httpapi"):
        response = client.post(path, content=too_deep_to_parse,
                               headers={**bearer(tokens.engineer), "Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.text)


# --- SDK properties named like the schema's container --------------------------------------------------------------
@pytest.mark.parametrize("data", ["text", 7, ["a"], True])  # (null is no data: the properties fill it)
def test_an_sdk_data_property_that_is_not_an_object_is_quarantined_not_a_crash(client, tokens, tmp_path, data):
    properties = {"session_id": "s1", "choice": "help_friend", "data": data}
    response = client.post("/v1/track", headers=bearer(tokens.engineer),
                           json={"event": "choice_made", "userId": "u1", "properties": properties})
    assert response.status_code == 200, response.text
    land(client)
    assert landed_event_ids(tmp_path / "data") == []
    assert quarantine_reasons(tmp_path / "data") == ["schema_violation"]  # kept whole, with its reason


def test_an_sdk_data_object_is_merged_with_the_loose_properties(registry):
    from ingest.collector.adapters.common import SdkEvent, WireMapper

    mapper = WireMapper(registry)
    now = datetime(2026, 11, 30, tzinfo=timezone.utc)
    for properties in ({"choice": "help_friend", "data": {"n": 1}}, {"data": {"n": 1}, "choice": "help_friend"}):
        wire = mapper.to_wire(SdkEvent("choice_made", "u1", "e1", now, properties), now)
        assert wire["data"] == {"choice": "help_friend", "n": 1}, properties
    wire = mapper.to_wire(SdkEvent("choice_made", "u1", "e1", now, {"choice": "c", "data": "text"}), now)
    assert wire["data"] == "text" and wire["choice"] == "c"  # nothing dropped; the schema refuses the event


# --- a refused request stores nothing ------------------------------------------------------------------------------
class FailingDisk:
    """Stands in for ``os.write``/``os.fsync`` in the spool module: a write fails after ``partial`` bytes with
    ENOSPC (as a full disk does), or the fsync fails, while ``failing`` is set."""

    def __init__(self, monkeypatch, partial: int = 100):
        import ingest.collector.spool as spool_module

        self.failing, self.fsync_fails, self.partial = False, False, partial
        self._write, self._fsync = spool_module.os.write, spool_module.os.fsync
        self.pause = False  # the next write waits for `release`, then succeeds (and sets `failing` if asked)
        self.fail_after_pause = False
        self.paused, self.release = threading.Event(), threading.Event()
        monkeypatch.setattr(spool_module.os, "write", self.write)
        monkeypatch.setattr(spool_module.os, "fsync", self.fsync)

    def write(self, fd: int, data) -> int:
        if self.pause:
            self.pause = False
            self.paused.set()
            self.release.wait(10)
            written = self._write(fd, data)
            self.failing = self.fail_after_pause
            return written
        if self.failing:
            self._write(fd, bytes(data[: self.partial]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._write(fd, data)

    def fsync(self, fd: int) -> None:
        if self.fsync_fails:
            raise OSError(errno.EIO, "Input/output error")
        self._fsync(fd)


@pytest.mark.parametrize("failure", ["write", "fsync"])
def test_a_failed_append_leaves_the_acknowledged_bytes_and_nothing_else(tmp_path, monkeypatch, failure):
    from ingest.collector.spool import Spool, sealed_files
    from ingest.errors import SpoolWriteFailed

    disk = FailingDisk(monkeypatch)
    spool = Spool(tmp_path / "spool", max_seconds=60)
    spool.append(b'{"acked": 1}\n')
    refused = b"".join(b'{"refused": %d}\n' % i for i in range(100))
    disk.failing, disk.fsync_fails = failure == "write", failure == "fsync"
    with pytest.raises(SpoolWriteFailed):
        spool.append(refused)
    disk.failing = disk.fsync_fails = False
    spool.append(b'{"acked": 2}\n')
    spool.close()
    assert b"".join(p.read_bytes() for p in sealed_files(tmp_path / "spool")) == b'{"acked": 1}\n{"acked": 2}\n'


def test_a_file_that_could_not_be_cut_back_is_cut_before_the_next_write(tmp_path, monkeypatch):
    import ingest.collector.spool as spool_module
    from ingest.errors import SpoolWriteFailed

    disk = FailingDisk(monkeypatch)
    spool = spool_module.Spool(tmp_path / "spool", max_seconds=60)
    spool.append(b'{"acked": 1}\n')
    truncate = spool_module.os.ftruncate
    monkeypatch.setattr(spool_module.os, "ftruncate", lambda fd, size: (_ for _ in ()).throw(OSError(errno.EIO, "EIO")))
    disk.failing = True
    with pytest.raises(SpoolWriteFailed):
        spool.append(b'{"refused": 1}\n' * 20)
    disk.failing = False
    monkeypatch.setattr(spool_module.os, "ftruncate", truncate)
    spool.append(b'{"acked": 2}\n')
    spool.close()
    assert b"".join(p.read_bytes() for p in spool_module.sealed_files(tmp_path / "spool")) == \
        b'{"acked": 1}\n{"acked": 2}\n'


def test_group_commit_failure_refuses_the_whole_group_and_keeps_earlier_acks(tmp_path, monkeypatch):
    import time

    from ingest.collector.spool import Spool, sealed_files
    from ingest.errors import SpoolWriteFailed

    disk = FailingDisk(monkeypatch)
    spool = Spool(tmp_path / "spool", max_seconds=60)
    disk.pause, disk.fail_after_pause = True, True  # x's write waits; the group written next fails
    outcomes: dict[str, str] = {}

    def append(name: str, data: bytes) -> None:
        try:
            spool.append(data)
            outcomes[name] = "acked"
        except SpoolWriteFailed:
            outcomes[name] = "refused"

    threads = [threading.Thread(target=append, args=("x", b'{"x": 1}\n'))]
    threads[0].start()
    assert disk.paused.wait(10)
    for name in ("y", "z"):
        threads.append(threading.Thread(target=append, args=(name, b'{"%s": 1}\n' % name.encode() * 50)))
        threads[-1].start()
    deadline = time.monotonic() + 10
    while len(spool._pending) < 2:  # y and z queued behind the writer: they are written as one group
        assert time.monotonic() < deadline
        time.sleep(0.01)
    disk.release.set()
    for thread in threads:
        thread.join(10)
    disk.failing = False
    spool.close()
    assert outcomes == {"x": "acked", "y": "refused", "z": "refused"}
    assert b"".join(p.read_bytes() for p in sealed_files(tmp_path / "spool")) == b'{"x": 1}\n'


def test_a_503_request_stores_nothing_and_a_later_one_lands(client, tokens, tmp_path, monkeypatch):
    disk = FailingDisk(monkeypatch, partial=4000)  # 4,000 of the request's bytes reach the file before the error
    client.post("/v1/events", json=[learning_event(1000)], headers=bearer(tokens.engineer))  # acknowledged first
    disk.failing = True
    refused = client.post("/v1/events", json=[learning_event(i) for i in range(100)], headers=bearer(tokens.engineer))
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "unavailable"
    disk.failing = False
    assert client.post("/v1/events", json=[learning_event(1001)], headers=bearer(tokens.engineer)).status_code == 200
    land(client)
    assert sorted(landed_event_ids(tmp_path / "data")) == ["evt-1000", "evt-1001"]
    assert quarantine_reasons(tmp_path / "data") == []  # no torn tail


# --- content types, methods, parameters, headers -----------------------------------------------------------------
def test_content_type_is_checked(client, tokens):
    xml = client.post("/v1/events", content=b"<event><id>1</id></event>",
                      headers={**bearer(tokens.engineer), "Content-Type": "application/xml"})
    assert xml.status_code == 415
    assert "application/xml" in xml.json()["error"]["message"] and "application/json" in xml.json()["error"]["message"]
    form = client.post("/api/v1/telemetry/events", content=json.dumps(learning_event(1)),
                       headers={**bearer(tokens.engineer), "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415 and "-H 'Content-Type: application/json'" in form.json()["error"]["message"]
    for media in ("application/json; charset=utf-8", "text/plain", "application/vnd.game+json"):
        ok = client.post("/api/v1/telemetry/events", content=json.dumps(learning_event(2)),
                         headers={**bearer(tokens.engineer), "Content-Type": media})
        assert ok.status_code == 200, (media, ok.text)
    lines = b"\n".join(orjson.dumps(learning_event(i)) for i in range(3, 5))
    assert client.post("/v1/events", content=lines, headers={**bearer(tokens.engineer),
                                                             "Content-Type": "application/x-ndjson"}).json()["accepted"] == 2
    as_json = client.post("/v1/events", content=lines, headers={**bearer(tokens.engineer),
                                                                "Content-Type": "application/json"})
    assert as_json.status_code == 400 and as_json.json()["error"]["code"] == "invalid_json"
    no_token = client.post("/v1/events", content=b"<x/>", headers={"Content-Type": "application/xml"})
    assert no_token.status_code == 401  # the caller is judged before the body
    no_token_sdk = client.post("/v1/batch", content=b"<x/>", headers={"Content-Type": "application/xml"})
    assert no_token_sdk.status_code == 401


def test_a_json_scalar_body_is_400(client, tokens):
    for body in (b"5", b'"text"', b"null", b"true"):
        response = client.post("/v1/events", content=body, headers=bearer(tokens.engineer))
        assert response.status_code == 400 and response.json()["error"]["code"] == "not_events", body


def test_405_names_the_allowed_methods(client, tokens):
    for method, path, allowed in (("GET", "/v1/events", "POST"), ("DELETE", "/api/v1/telemetry/batch", "POST"),
                                  ("POST", "/health", "GET"), ("PUT", "/api/politics/telemetry/events", "GET")):
        response = client.request(method, path, headers=bearer(tokens.engineer))
        assert response.status_code == 405, (method, path)
        assert response.headers["Allow"] == allowed
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_repeated_single_value_parameter_is_400(client, tokens):
    response = client.get("/api/politics/telemetry/events?type=BILL_VOTE&type=LOBBY_ATTEMPT",
                          headers=bearer(tokens.engineer))
    assert response.status_code == 400 and response.json()["error"]["parameters"] == ["type"]
    several = client.get("/api/politics/achievements?ids=a&ids=b", headers=bearer(tokens.engineer))
    assert several.status_code == 200  # a list parameter takes several


def test_the_document_and_its_viewer_need_no_token(client):
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_the_document_describes_bodies_statuses_and_parameters(client):
    document = client.get("/openapi.json").json()
    operations = {(method, path): op for path, ops in document["paths"].items() for method, op in ops.items()}
    writes = [key for key in operations if key[0] == "post" and not key[1].endswith("/close")]
    assert len(writes) >= 20
    for key in writes:
        assert operations[key]["requestBody"]["content"], key
    for key, operation in operations.items():
        assert "422" not in operation["responses"], key
        if key not in (("get", "/health"), ("get", "/api/v1/health")):
            assert {"400", "401", "403", "429", "503"} <= set(operation["responses"]), key
            assert operation["security"], key
    assert "404" in operations[("post", "/api/v1/telemetry/session/{session_id}/close")]["responses"]
    assert {"413", "415"} <= set(operations[("post", "/v1/events")]["responses"])
    assert "application/x-ndjson" in operations[("post", "/v1/events")]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in operations[("post", "/import")]["requestBody"]["content"]
    for kind in ("track", "identify", "page", "screen", "group", "alias"):
        assert not operations[("post", f"/v1/{kind}")].get("parameters"), kind  # no internal `kind` parameter
    assert operations[("post", "/v1/events")]["responses"]["429"]["headers"]["Retry-After"]["required"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.slow
def test_an_oversized_header_is_431_not_a_reset(start_server):
    server = start_server()
    response = httpx.get(server.url + "/health", headers={"X-Padding": "a" * 1_000_000}, timeout=30)
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"
    assert httpx.get(server.url + "/health", headers={"X-Padding": "a" * 30_000}, timeout=30).status_code == 200


# --- hash keys ------------------------------------------------------------------------------------------------------
def test_a_hash_key_under_32_bytes_is_refused_with_the_safe_length(tmp_path, monkeypatch, tokens):
    from click.testing import CliRunner

    from ingest.cli.main import main
    from ingest.errors import ConfigError
    from ingest.privacy.keys import IdentityHasher, Keyring

    monkeypatch.setenv("TELEMETRY_HASH_KEY", "k" * 16)
    with pytest.raises(ConfigError, match="16 bytes; at least 32 bytes are required"):
        IdentityHasher.from_environment()
    result = CliRunner().invoke(main, ["serve", "--data-dir", str(tmp_path / "data"), "--tokens-file",
                                       str(tokens.path), "--port", "1"])
    assert result.exit_code == 2 and "at least 32 bytes" in result.output and "k" * 16 not in result.output
    monkeypatch.setenv("TELEMETRY_HASH_KEY", "k" * 32)
    assert IdentityHasher.from_environment().key == b"k" * 32
    keyring = tmp_path / "keyring.json"
    keyring.write_text(json.dumps({"keys": [{"id": "k1", "from": "1970-01-01", "secret": "s" * 31}]}))
    with pytest.raises(ConfigError, match="key k1 is 31 bytes; at least 32"):
        Keyring.load(keyring)
    assert len(IdentityHasher.demo().key) >= 32  # demo mode: a public key, long enough too
