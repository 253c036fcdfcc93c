"""The collector's seed rules over HTTP: unknown schema versions are refused as `analytics_version`
(docs/requirements/gameplay.md#schema-evolution),
the client's country is derived from its address and the address dropped (docs/requirements/gameplay.md), heartbeat sampling follows
the collector's load (docs/requirements/gameplay.md), optional metrics degrade first under backpressure
(docs/requirements/ability.md#registry), and the
sampling file reloads without a restart (docs/requirements/ability.md#sampling).

Expected sampling decisions are computed here with plain ``hmac`` (the seed's rule), never by the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector_support import bearer, lake_counts
from support import ROOT

SAMPLING_KEY = "sampling-secret-for-tests-0123"


@pytest.fixture(autouse=True)
def sampling_key(monkeypatch):
    monkeypatch.setenv("TELEMETRY_SAMPLING_KEY", SAMPLING_KEY)


def fraction(subject: str, event_type: str) -> float:
    """The seed's deterministic draw: HMAC(sampling secret, "<subject>|<type>") read as a 64-bit fraction."""
    digest = hmac.new(SAMPLING_KEY.encode(), f"{subject}|{event_type}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def players_in(low: float, high: float, event_type: str, count: int) -> list[str]:
    """``count`` player ids whose draw for ``event_type`` lies in [low, high)."""
    found, n = [], 0
    while len(found) < count:
        player = f"player-{n}"
        if low <= fraction(player, event_type) < high:
            found.append(player)
        n += 1
    return found


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the registry and the dbt seeds, so a test can edit the sampling file."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "schemas", root / "schemas")
    shutil.copytree(ROOT / "seeds", root / "seeds")
    return root


def set_sampling(project: Path, old: str, new: str) -> None:
    path = project / "schemas" / "sampling.yml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))  # a visible change of mtime


@pytest.fixture
def serve(tmp_path, tokens, project):
    """An in-process collector over ``project``'s registry, seen from client address ``peer``."""
    from fastapi.testclient import TestClient

    from ingest.collector.app import create_app
    from ingest.collector.config import CollectorConfig

    clients = []

    def make(peer: str = "127.0.0.1", **options):
        config = CollectorConfig(data_dir=tmp_path / "data", schemas_dir=project / "schemas",
                                 tokens_file=tokens.path, land_every=0, **options)
        app = create_app(config)
        client = TestClient(app, raise_server_exceptions=False, client=(peer, 50000))
        client.__enter__()
        clients.append(client)
        client.headers.update(bearer(tokens.engineer))
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def now_ms() -> int:
    return int(datetime.now(timezone.utc).timestamp() * 1000)


def gameplay(event_type: str, player: str, seq: int, **fields) -> dict:
    base = {"event_type": event_type, "schema_version": "1.0", "player_id": player, "client_guid": f"cg-{player}",
            "seq": seq, "ts_ms": now_ms(), "session_id": f"s-{player}"}
    if event_type == "client_tick":
        base["tick"] = seq
    if event_type == "session_start":
        base["build"] = "1.0.0"
    return {**base, **fields}


def rows(data_dir: Path, lake_type: str) -> list[dict]:
    files = sorted((data_dir / "lake" / "events" / f"event_type={lake_type}").glob("event_date=*/*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default").to_pylist() if files else []


def land(client) -> None:
    client.app.state.collector.land_own(rotate=True)


# --- unknown schema version ---------------------------------------------------------------------------------------
def test_an_unknown_schema_version_is_refused_as_analytics_version_with_the_per_event_detail(serve, tmp_path):
    client = serve()
    good = gameplay("session_start", "p-1", 1)
    bad = gameplay("session_start", "p-2", 1, schema_version="9.9")
    answer = client.post("/v1/events", json=[good, bad])
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "analytics_version"
    assert error["indexes"] == [1]
    results = error["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["reason"] == "unknown_schema_version"
    assert results[1]["errors"][0]["pointer"] == "/schema_version"
    land(client)
    assert lake_counts(tmp_path / "data")["records"] == 0  # refused whole: nothing of the request was stored


def test_a_known_version_is_still_answered_per_event(serve):
    client = serve()
    answer = client.post("/v1/events", json=[gameplay("session_start", "p-1", 1)])
    assert answer.status_code == 200 and answer.json()["accepted"] == 1


def test_the_openapi_document_names_analytics_version_and_its_detail(serve):
    document = serve().get("/openapi.json").json()
    assert "analytics_version" in document["paths"]["/v1/events"]["post"]["responses"]["400"]["description"]
    error = document["components"]["schemas"]["Problem"]["properties"]["error"]["properties"]
    assert error["results"]["items"]["properties"]["reason"] == {"type": "string"}


def test_a_producer_may_not_send_the_collectors_note(serve, tmp_path):
    client = serve()
    event = gameplay("client_tick", "p-1", 1, _collector={"sample_rate": 1.0})
    answer = client.post("/v1/events", json=[event])
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "reserved_field"
    land(client)
    assert lake_counts(tmp_path / "data")["records"] == 0


# --- GeoIP --------------------------------------------------------------------------------------------------------
# Addresses and countries from the iptocc package's own documentation: 8.8.8.8 → US, 1.0.16.1 → JP.
@pytest.mark.parametrize("peer, country", [("8.8.8.8", "US"), ("1.0.16.1", "JP"), ("10.1.2.3", None)])
def test_region_is_the_country_of_the_client_address_and_the_address_never_lands(serve, tmp_path, peer, country):
    client = serve(peer)
    assert client.post("/v1/events", json=[gameplay("session_start", "p-1", 1)]).json()["accepted"] == 1
    spooled = b"".join(p.read_bytes() for p in (tmp_path / "data" / "spool").glob("*"))
    assert peer.encode() not in spooled
    land(client)
    (row,) = rows(tmp_path / "data", "gameplay_session_start")
    assert row["region"] == country
    assert peer not in repr(row)
    for path in (tmp_path / "data" / "lake").rglob("*.parquet"):
        assert peer.encode() not in path.read_bytes()


def test_a_region_the_producer_sends_is_kept(serve, tmp_path):
    client = serve("8.8.8.8")
    client.post("/v1/events", json=[gameplay("session_start", "p-1", 1, region="eu")])
    land(client)
    assert [r["region"] for r in rows(tmp_path / "data", "gameplay_session_start")] == ["eu"]


@pytest.mark.parametrize("trusted, peer, forwarded, country", [
    ("", "8.8.8.8", "1.0.16.1", "US"),                  # no trusted proxy: the header is the client's word, ignored
    ("10.0.0.0/8", "8.8.8.8", "1.0.16.1", "US"),        # the peer is not the proxy: ignored
    ("10.0.0.0/8", "10.1.2.3", "1.0.16.1", "JP"),       # from the proxy: the client it forwards
    ("10.0.0.0/8", "10.1.2.3", "1.0.16.1, 10.9.9.9", "JP"),  # right-most address that is not a proxy
])
def test_x_forwarded_for_is_read_only_from_a_trusted_proxy(serve, tmp_path, trusted, peer, forwarded, country):
    client = serve(peer, trusted_proxies=trusted)
    client.post("/v1/events", json=[gameplay("session_start", "p-1", 1)], headers={"X-Forwarded-For": forwarded})
    land(client)
    assert [r["region"] for r in rows(tmp_path / "data", "gameplay_session_start")] == [country]


# --- load: adaptive heartbeat and backpressure ------------------------------------------------------------------
def test_breaker_trips_after_sustained_load_and_falls_back_after_sustained_calm():
    from ingest.collector.load import Breaker

    breaker = Breaker(0.85, 120)
    assert [breaker.update(share, t) for share, t in [(0.9, 0), (0.9, 119), (0.9, 120)]] == [False, False, True]
    assert [breaker.update(share, t) for share, t in [(0.5, 130), (0.9, 200), (0.5, 210), (0.5, 329)]] == \
        [True, True, True, True]  # calm interrupted at 200: the 120 s start again at 210
    assert breaker.update(0.5, 330) is False


def test_heartbeat_rate_doubles_while_load_is_high_and_falls_back(serve, project, tmp_path):
    set_sampling(project, "capacity_events: 5000", "capacity_events: 5")
    client = serve()
    clock = Clock()
    client.app.state.collector.clock = clock
    low = players_in(0.0, 0.1, "client_tick", 2)      # kept at 10% and at 20%
    mid = players_in(0.1, 0.2, "client_tick", 3)      # kept only at 20%
    high = players_in(0.2, 1.0, "client_tick", 2)     # never kept

    def send(seq: int) -> list[str]:
        events = [gameplay("client_tick", p, seq) for p in low + mid + high]
        return [r["status"] for r in client.post("/v1/events", json=events).json()["results"]]

    base = ["accepted"] * 2 + ["dropped"] * 3 + ["dropped"] * 2
    doubled = ["accepted"] * 5 + ["dropped"] * 2
    assert send(1) == base            # no load yet
    clock.now += 1.5
    assert send(2) == base            # 7 events waiting (140% of 5): high, not yet for 120 s
    clock.now += 120
    assert send(3) == doubled         # high for 120 s: doubled
    land(client)                      # the spool drains: load 0
    clock.now += 1.5
    assert send(4) == doubled         # calm, not yet for 120 s
    clock.now += 120
    land(client)
    assert send(5) == base            # calm for 120 s: back to 10%
    land(client)
    landed = rows(tmp_path / "data", "gameplay_client_tick")
    by_seq: dict[int, set] = {}
    for row in landed:
        by_seq.setdefault(row["seq"], set()).add(row["sample_rate"])
    assert by_seq == {1: {0.1}, 2: {0.1}, 3: {0.2}, 4: {0.2}, 5: {0.1}}
    assert len(landed) == 2 + 2 + 5 + 5 + 2


def test_optional_metrics_degrade_first_under_backpressure_and_totals_stay_reweighted(serve, project, tmp_path):
    set_sampling(project, "capacity_events: 5000", "capacity_events: 4")
    client = serve()
    clock = Clock()
    client.app.state.collector.clock = clock
    ts = int(time.time())

    def summary(n: int) -> dict:
        return {"v": 1.1, "ts": ts, "shard": "world-1", "player": f"h:p{n}", "entry": f"contract.entry_{n}",
                "metrics": {"casts": 2, "damage_total": 100, "reflect_count": 4, "pull_events": 2, "clone_count": 3},
                "meta": {"tier": 1, "sample_rates": {"reflect_count": 0.5}}}

    calm = [summary(n) for n in range(5)]
    assert client.post("/v1/events", json=calm).json()["accepted"] == 5  # load 0 when judged: not degraded
    clock.now += 1.5
    client.post("/v1/events", json=[summary(100)])  # 5 waiting of 4: over 80%, the 30 s start
    clock.now += 31
    loaded = [summary(n) for n in range(10, 50)]
    assert client.post("/v1/events", json=loaded).json()["accepted"] == 40  # the answer does not change
    land(client)
    landed = {r["entry"]: r for r in rows(tmp_path / "data", "ability_metric_summary")}
    registry_rates = {"reflect_count": 0.5, "pull_events": 0.5, "clone_count": 0.75}  # seeds/ability_metric_registry
    for n in range(5):
        row = landed[f"contract.entry_{n}"]
        assert (row["metrics"]["reflect_count"], row["metrics"]["pull_events"], row["metrics"]["clone_count"]) == (4, 2, 3)
    kept_any = dropped_any = 0
    for n in range(10, 50):
        row = landed[f"contract.entry_{n}"]
        metrics, rates = row["metrics"], row["meta"]["sample_rates"] or {}
        assert (metrics["casts"], metrics["damage_total"]) == (2, 100)  # required metrics untouched
        for key, value in (("reflect_count", 4), ("pull_events", 2), ("clone_count", 3)):
            keep = fraction(row["event_id"], key) < 0.5  # the draw, on the event's own id
            stated = 0.5 if key == "reflect_count" else registry_rates[key]
            if keep:
                kept_any += 1
                assert (metrics[key], rates[key]) == (value, pytest.approx(stated * 0.5))
            else:
                dropped_any += 1
                assert metrics[key] is None and rates.get(key) is None
    assert kept_any and dropped_any


def test_a_degraded_summary_keeps_its_identity_so_a_resend_is_a_duplicate(serve, project, tmp_path):
    set_sampling(project, "capacity_events: 5000", "capacity_events: 1")
    client = serve()
    clock = Clock()
    client.app.state.collector.clock = clock
    line = {"v": 1.1, "ts": int(time.time()), "shard": "w", "player": "h:p", "entry": "contract.blood_pact",
            "metrics": {"casts": 1, "damage_total": 10, "reflect_count": 1, "pull_events": 1, "clone_count": 1},
            "meta": {"tier": 1}}
    client.post("/v1/events", json=[{**line, "ts": line["ts"] - 1}])
    clock.now += 1.5
    client.post("/v1/events", json=[{**line, "ts": line["ts"] - 2}])
    clock.now += 31
    first = client.post("/v1/events", json=[line]).json()["results"][0]["event_id"]  # degraded
    land(client)
    clock.now += 31
    land(client)
    client.post("/v1/events", json=[line])  # calm by now; the same line again
    clock.now += 1.5
    client.post("/v1/events", json=[line])
    land(client)
    ids = [r["event_id"] for r in rows(tmp_path / "data", "ability_metric_summary")]
    assert ids.count(first) == 1
    assert lake_counts(tmp_path / "data")["duplicates"] == 2


# --- hot reload -----------------------------------------------------------------------------------------------------
def test_sampling_file_changes_apply_without_a_restart_and_rows_keep_the_rate_they_were_judged_with(
        serve, project, tmp_path):
    client = serve()
    clock = Clock()
    client.app.state.collector.clock = clock
    (player,) = players_in(0.5, 1.0, "xp_gain", 1)  # out at 30%, in at 100%
    event = lambda seq: gameplay("xp_gain", player, seq, amount=5, source="quest")  # noqa: E731
    assert client.post("/v1/events", json=[event(1)]).json()["results"][0]["status"] == "dropped"
    set_sampling(project, "xp_gain: {rate: 0.3}", "xp_gain: {rate: 1.0}")
    clock.now += 1.5
    assert client.post("/v1/events", json=[event(2)]).json()["results"][0]["status"] == "accepted"
    set_sampling(project, "xp_gain: {rate: 1.0}", "xp_gain: {rate: 0.3}")  # changed back before landing
    land(client)
    landed = rows(tmp_path / "data", "gameplay_xp_gain")
    assert [(r["seq"], r["sample_rate"]) for r in landed] == [(2, 1.0)]
    assert lake_counts(tmp_path / "data")["dropped"] == 1


def test_a_broken_sampling_edit_keeps_the_rules_in_force(serve, project):
    client = serve()
    clock = Clock()
    client.app.state.collector.clock = clock
    (player,) = players_in(0.5, 1.0, "xp_gain", 1)
    set_sampling(project, "xp_gain: {rate: 0.3}", "xp_gain: {rate: [")
    clock.now += 1.5
    answer = client.post("/v1/events", json=[gameplay("xp_gain", player, 1, amount=5, source="quest")])
    assert answer.status_code == 200 and answer.json()["results"][0]["status"] == "dropped"
    set_sampling(project, "xp_gain: {rate: [", "xp_gain: {rate: 0.3}")  # landing (at shutdown) needs a valid file
