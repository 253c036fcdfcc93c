"""docs/requirements/gameplay.md (gameplay): the taxonomy and lifecycle fields land; sampling follows the shared YAML with
value-dependent rates and a non-rotating sampling secret; `analytics_opt_out` is honoured server-side;
dedup by (player_id, client_guid, seq), or by an analytics SDK's own event id where the event has no seq; chat text
never lands."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from conformance_support import FIXTURES, fixture_text, ingest, ingest_lines, keyed_hash, landed, quarantine

AS_OF = "2025-12-01T12:30:00Z"  # the fixture's ts_ms start at 2025-12-01T12:00:00Z
SAMPLING_KEY = "sampling-secret-for-tests-0123"
# docs/requirements/gameplay.md#sampling: rates, written out by hand from the seed (boss/elite combat is 100%)
SEED_RATES = {
    "session_start": 1.0, "session_end": 1.0, "session_crash": 1.0, "reconnect": 1.0,
    "engage_enemy": 1.0, "ability_cast": 0.5, "damage_dealt": 0.5, "damage_taken": 0.5, "death": 1.0,
    "xp_gain": 0.3, "skill_rank_up": 1.0, "loot_drop": 0.3, "inventory_move": 0.3, "craft_result": 0.3,
    "party_create": 0.5, "party_join": 0.5, "emote_played": 0.5, "friend_invite": 0.5, "chat_message": 0.5,
    "client_tick": 0.1, "aoi_population": 0.1, "snapshot_size": 0.1,
}


def rate_of(event: dict) -> float:
    """docs/requirements/gameplay.md#sampling table rate of one event: combat at boss/elite tier is 100%."""
    if event["event_type"] in ("ability_cast", "damage_dealt", "damage_taken") and event.get("encounter_tier") in ("boss", "elite"):
        return 1.0
    return SEED_RATES[event["event_type"]]


def kept(player_id: str, event_type: str, rate: float) -> bool:
    """The seed's deterministic rule, written independently: HMAC(sampling secret, "<player>|<type>") < rate."""
    digest = hmac.new(SAMPLING_KEY.encode(), f"{player_id}|{event_type}".encode(), hashlib.sha256).digest()
    return rate >= 1.0 or int.from_bytes(digest[:8], "big") / 2**64 < rate


@pytest.fixture(autouse=True)
def sampling_key(monkeypatch):
    monkeypatch.setenv("TELEMETRY_SAMPLING_KEY", SAMPLING_KEY)


def test_taxonomy_every_seed_event_type_is_registered(registry):
    seed_types = ("session_start session_end session_crash reconnect engage_enemy ability_cast damage_dealt "
                  "damage_taken death xp_gain skill_rank_up loot_drop inventory_move craft_result party_create "
                  "party_join emote_played friend_invite client_tick aoi_population snapshot_size").split()
    assert len(seed_types) == 21
    assert set(seed_types) <= set(registry.families["gameplay"].event_types())


def test_session_lifecycle_fields_build_platform_shard_land(tmp_path):
    ingest(tmp_path / "d", FIXTURES / "seed002_taxonomy.jsonl", AS_OF)
    [start] = landed(tmp_path / "d", "gameplay_session_start")
    assert (start["build"], start["platform"], start["shard"]) == ("0.9.3", "pc", "eu-1")
    assert start["player_key"] == keyed_hash("p-seed002-erin")
    assert start["session_id"] == keyed_hash("sess-seed002-erin-1")


def test_taxonomy_fixture_lands_with_the_sampling_accounting_the_seed_implies(tmp_path):
    events = [json.loads(line) for line in fixture_text("seed002_taxonomy.jsonl").splitlines()]
    expected_kept = sum(kept(e["player_id"], e["event_type"], rate_of(e)) for e in events)
    row = ingest(tmp_path / "d", FIXTURES / "seed002_taxonomy.jsonl", AS_OF)
    assert row["records_read"] == len(events) == 22
    assert (row["landed"], row["quarantined"], row["duplicates"]) == (expected_kept, 0, 0), row["output"]
    assert row["dropped"] == len(events) - expected_kept
    # boss combat is kept whatever the hash says (value-dependent rate)
    for combat in ("ability_cast", "damage_dealt", "damage_taken"):
        [one] = landed(tmp_path / "d", f"gameplay_{combat}")
        assert one["sample_rate"] == 1.0


def test_combat_rate_depends_on_encounter_tier(tmp_path):
    base = next(json.loads(line) for line in fixture_text("seed002_taxonomy.jsonl").splitlines()
                if json.loads(line)["event_type"] == "damage_dealt")
    lines, expected = [], 0
    for i in range(200):
        tier = ("boss", "elite", "normal", None)[i % 4]
        player = f"p-tier-{i}"
        event = {**base, "player_id": player, "client_guid": f"cg-{i}", "seq": i, "encounter_tier": tier}
        if tier is None:
            del event["encounter_tier"]  # untagged combat: the base rate
        lines.append(json.dumps(event))
        expected += kept(player, "damage_dealt", 1.0 if tier in ("boss", "elite") else 0.5)
    row = ingest_lines(tmp_path / "d", tmp_path, "tiers.jsonl", lines, AS_OF)
    assert row["quarantined"] == 0, row["output"]
    assert row["landed"] == expected and row["dropped"] == 200 - expected
    rows = landed(tmp_path / "d", "gameplay_damage_dealt")
    assert {r["encounter_tier"]: r["sample_rate"] for r in rows} == {"boss": 1.0, "elite": 1.0, "normal": 0.5, None: 0.5}


def test_rotating_the_id_key_keeps_the_same_players_in_the_sample(tmp_path):
    base = next(json.loads(line) for line in fixture_text("seed002_taxonomy.jsonl").splitlines()
                if json.loads(line)["event_type"] == "xp_gain")
    lines = [json.dumps({**base, "player_id": f"p-cohort-{i}", "client_guid": f"cg-{i}", "seq": i, "event_id": f"x-{i}"})
             for i in range(300)]
    kept_ids, keys_by_event = [], []
    for n, key in enumerate(("first-id-key-0123456789abcdefghij", "rotated-id-key-9876543210abcdefghij")):
        data = tmp_path / f"d{n}"
        row = ingest_lines(data, tmp_path, f"xp{n}.jsonl", lines, AS_OF, env={"TELEMETRY_HASH_KEY": key})
        rows = landed(data, "gameplay_xp_gain")
        assert len(rows) == row["landed"]
        kept_ids.append(sorted(r["event_id"] for r in rows))
        keys_by_event.append({r["event_id"]: r["player_key"] for r in rows})
        first = rows[0]
        assert first["player_key"] == keyed_hash(f"p-cohort-{first['event_id'][2:]}", key.encode())
    expected = sorted(f"x-{i}" for i in range(300) if kept(f"p-cohort-{i}", "xp_gain", 0.3))
    assert kept_ids[0] == kept_ids[1] == expected
    assert 60 < len(expected) < 120  # about 30%
    assert all(keys_by_event[0][e] != keys_by_event[1][e] for e in expected)  # the id key did rotate


def test_analytics_opt_out_is_dropped_by_policy_and_counted(tmp_path):
    base = next(json.loads(line) for line in fixture_text("seed002_taxonomy.jsonl").splitlines()
                if json.loads(line)["event_type"] == "session_start")
    lines = [json.dumps({**base, "seq": 1, "analytics_opt_out": True}),
             json.dumps({**base, "seq": 2, "analytics_opt_out": False}),
             json.dumps({**base, "seq": 3})]
    row = ingest_lines(tmp_path / "d", tmp_path, "optout.jsonl", lines, AS_OF)
    assert (row["landed"], row["dropped"], row["quarantined"]) == (2, 1, 0), row["output"]
    assert "opted_out 1" in row["output"]


def test_dedup_by_player_client_guid_seq(tmp_path):
    base = next(json.loads(line) for line in fixture_text("seed002_taxonomy.jsonl").splitlines()
                if json.loads(line)["event_type"] == "session_end")
    resent = {**base, "build": "resent"}  # same (player_id, client_guid, seq), no event_id
    row = ingest_lines(tmp_path / "d", tmp_path, "dup.jsonl", [json.dumps(base), json.dumps(resent)], AS_OF)
    assert (row["landed"], row["duplicates"]) == (1, 1)


def sdk_shaped(event_id: str | None, **changes) -> dict:
    """A docs/requirements/gameplay.md event as an analytics SDK sends it (1.1): its own idempotency key, no client_guid or seq."""
    base = next(json.loads(text) for text in fixture_text("seed002_taxonomy.jsonl").splitlines()
                if json.loads(text)["event_type"] == "death")
    event = {k: v for k, v in base.items() if k not in ("client_guid", "seq")}
    event.update(schema_version="1.1", **({"event_id": event_id} if event_id else {}), **changes)
    return event


def test_an_event_id_stands_for_the_dedup_tuple_and_without_either_the_tuple_is_required(tmp_path):
    lines = [sdk_shaped("sdk-1"), sdk_shaped("sdk-1", build="resent"), sdk_shaped("sdk-2", ts_ms=1764590460000),
             sdk_shaped(None), {**sdk_shaped("sdk-3"), "schema_version": "1.0"}]
    row = ingest_lines(tmp_path / "d", tmp_path, "sdk.jsonl", [json.dumps(e) for e in lines], AS_OF)
    assert (row["landed"], row["duplicates"], row["quarantined"]) == (2, 1, 2), row["output"]
    assert sorted((r["event_id"], r["seq"], r["client_guid"]) for r in landed(tmp_path / "d", "gameplay_death")) \
        == [("sdk-1", None, None), ("sdk-2", None, None)]
    errors = [(q["schema_id"].rsplit("/", 1)[1], {(e["pointer"], e["keyword"]) for e in q["errors"]})
              for q in quarantine(tmp_path / "d")]
    assert sorted(errors, key=lambda e: e[0]) == [  # 1.0 still requires the tuple, with or without an event id
        ("1.0.json", {("/client_guid", "required"), ("/seq", "required")}),
        ("1.1.json", {("/client_guid", "required"), ("/seq", "required")})]


@pytest.mark.dbt
def test_staging_keeps_every_sdk_event_and_still_dedups_the_tuple(tmp_path):
    """Staging's second dedup (player, client_guid, seq) must not fold SDK events, whose tuple is null."""
    import duckdb

    from ingest.warehouse import run_dbt

    base = next(json.loads(text) for text in fixture_text("seed002_taxonomy.jsonl").splitlines()
                if json.loads(text)["event_type"] == "death")
    lines = [sdk_shaped("sdk-1"), sdk_shaped("sdk-2", ts_ms=1764590460000), sdk_shaped("sdk-3", ts_ms=1764590470000),
             {**base, "event_id": "tuple-1"}, {**base, "event_id": "tuple-2"}]  # one tuple, two event ids
    data = tmp_path / "d"
    row = ingest_lines(data, tmp_path, "sdk.jsonl", [json.dumps(e) for e in lines], AS_OF)
    assert row["landed"] == 5, row["output"]
    run_dbt(["build", "--select", "+stg_gameplay__events", "--indirect-selection", "cautious"], data,
            quiet=True)  # its data tests (the tuple unique where present) pass too
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        ids = sorted(r[0] for r in con.sql("select event_id from main.stg_gameplay__events").fetchall())
    assert ids == ["sdk-1", "sdk-2", "sdk-3", "tuple-1"]


def test_chat_text_never_lands_only_its_length(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEMETRY_SAMPLING_KEY", SAMPLING_KEY)
    base = next(json.loads(line) for line in fixture_text("seed002_taxonomy.jsonl").splitlines()
                if json.loads(line)["event_type"] == "chat_message")
    lines = [json.dumps({**base, "player_id": f"p-chat-{i}", "client_guid": f"c{i}", "seq": i}) for i in range(20)]
    ingest_lines(tmp_path / "d", tmp_path, "chat.jsonl", lines, AS_OF)
    rows = landed(tmp_path / "d", "gameplay_chat_message")
    assert rows and all("text" not in r and r["text_length"] == len(base["text"]) for r in rows)


def test_every_lifecycle_event_can_carry_build_platform_and_shard(tmp_path, registry):
    """docs/requirements/gameplay.md#events: lifecycle events "include build, platform, shard"."""
    lifecycle = ("session_start", "session_end", "session_crash", "reconnect")
    for event_type in lifecycle:
        assert {"build", "platform", "shard"} <= set(registry.families["gameplay"].latest(event_type).document["properties"])
    events = [json.loads(line) for line in fixture_text("seed002_taxonomy.jsonl").splitlines()]
    lines = [json.dumps({**e, "schema_version": "1.1" if e["event_type"] != "session_start" else "1.0",
                         "build": "0.9.3", "platform": "pc", "shard": "eu-1"})
             for e in events if e["event_type"] in lifecycle]
    row = ingest_lines(tmp_path / "d", tmp_path, "lifecycle.jsonl", lines, AS_OF)
    assert (row["records_read"], row["landed"]) == (4, 4), row["output"]
    for event_type in lifecycle:
        [one] = landed(tmp_path / "d", f"gameplay_{event_type}")
        assert (one["build"], one["platform"], one["shard"]) == ("0.9.3", "pc", "eu-1")
