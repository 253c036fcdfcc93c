"""What each read tier sees of every identifier: every read endpoint × every politics event type and version (the
registry's examples, landed) × every tier, checked against raw ids and keyed hashes computed here."""

from __future__ import annotations

import copy
import csv
import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector_support import HASH_KEY, bearer
from support import ROOT

TIERS = ("engineer", "analyst", "viewer")
FIELD_KINDS = {  # every id-like wire field of the politics family and what it identifies (written by hand)
    "userId": "player", "participantIds": "player", "participants": "player",
    "companyId": "company", "fromCompanyId": "company", "toCompanyId": "company",
    "billId": "content", "campaignId": "content", "debateId": "content", "policyId": "content",
    "pollId": "content", "leadingCandidate": "content", "eventId": "event",
}
ID_LIKE = re.compile(r"(Id|Ids|_id|_ids)$|^participants$")
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def keyed(value: str) -> str:
    return hmac.new(HASH_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def politics_schemas() -> list[tuple[Path, dict]]:
    return [(p, json.loads(p.read_text())) for p in sorted((ROOT / "schemas" / "politics").glob("*/*.json"))]


def examples() -> list[dict]:
    """Every example of every politics schema and version, made recent and given a unique event id."""
    out = []
    for n, (path, document) in enumerate(politics_schemas()):
        for i, example in enumerate(document["examples"]):
            event = copy.deepcopy(example)
            event["createdAt"] = (NOW - timedelta(minutes=n + 1)).isoformat().replace("+00:00", "Z")
            event["eventId"] = f"{event.get('eventId', 'evt')}-{path.stem}-{i}"
            out.append(event)
    return out


EXAMPLES = examples()


def raw_values(kind: str) -> set[str]:
    values: set[str] = set()
    for event in EXAMPLES:
        for name, value in event.items():
            if FIELD_KINDS.get(name) == kind:
                values |= set(value) if isinstance(value, list) else {value}
    return values


PLAYERS, COMPANIES = raw_values("player"), raw_values("company")


def test_every_id_like_politics_field_is_known_here_and_annotated_as_here():
    """The hand-written kinds above cover every id-like field, and the registry annotates each one alike (so the
    walk below cannot miss a field the registry forgot)."""
    for path, document in politics_schemas():
        note = document["x-telemetry"]
        envelope = {note["envelope"].get(k) for k in ("event_id", "player_id", "session_id")}
        for name in document["properties"]:
            if ID_LIKE.search(name):
                assert name in FIELD_KINDS, f"{path}: {name} is id-like but has no kind in this test"
            kind = FIELD_KINDS.get(name)
            if kind in ("player", "company", "content") and "/" + name not in envelope:
                assert note["identifiers"].get("/" + name) == kind, f"{path}: /{name} is not annotated {kind}"


@pytest.fixture
def lake(make_client, tokens, tmp_path):
    """A client over a lake holding every example, marts built from that lake, and tokens of every tier that
    may also redeem; returns (client, tokens by tier, lineage values, player keys)."""
    from ingest.collector.tokens import TokenStore

    store = TokenStore.load(tokens.path)
    tier_tokens = {tier: store.create(f"walk-{tier}", ("ingest", "read"), tier) for tier in TIERS}
    tier_tokens["analyst-bound"] = store.create("walk-bound", ("read",), "analyst", company="co-7")
    client = make_client()
    for version in sorted({e["metaVersion"] for e in EXAMPLES}):  # one batch per version
        sent = [e for e in EXAMPLES if e["metaVersion"] == version]
        response = client.post("/v1/events", json=sent, headers=bearer(tokens.engineer))
        assert response.json()["accepted"] == len(sent), response.text
        client.app.state.collector.land_own(rotate=True)
    data = tmp_path / "data"
    files = [str(p) for p in (data / "lake" / "events").glob("event_type=politics_*/event_date=*/*.parquet")]
    con = duckdb.connect()
    rows = con.execute("select event_type, event_date, company_id, player_key, batch_id, hash_key_id, schema_version "
                       "from read_parquet(?, hive_partitioning=true, union_by_name=true)", [files]).fetchall()
    con.close()
    assert sorted((r[0], r[6]) for r in rows) == sorted(  # every version landed as itself
        ("politics_" + e["type"].lower(), f"{float(e['metaVersion']):.1f}") for e in EXAMPLES)
    lineage = {r[4] for r in rows} | {r[5] for r in rows}
    marts = data / "marts"
    marts.mkdir()
    daily = []
    for lake_type, day, company, player, *_ in rows:
        for scope, scope_id in (("all", "all"), ("company", company), ("user", player)):
            if scope_id is not None:
                daily.append({"event_date": day, "event_type": lake_type, "scope": scope, "scope_id": scope_id,
                              "events": 1, "distinct_players": 1, "outcome_count": 0, "success_count": 0,
                              "value_count": 1, "value_sum": 1.0, "value_sum_squares": 1.0, "value_min": 1.0,
                              "value_max": 1.0, "success_rate": None, "value_avg": 1.0, "value_stddev": None})
    pq.write_table(pa.Table.from_pylist(daily), marts / "agg_politics_daily.parquet")
    with open(ROOT / "seeds" / "politics_achievements.csv", newline="") as handle:
        achievements = [r["achievement_id"] for r in csv.DictReader(handle)]
    progress = [{"player_key": keyed(p), "achievement_id": a, "progress": 1, "target": 1, "progress_ratio": 1.0,
                 "is_unlocked": True, "unlocked_date": NOW.date()} for p in sorted(PLAYERS) for a in achievements[:2]]
    pq.write_table(pa.Table.from_pylist(progress), marts / "fct_politics_achievement_progress.parquet")
    return client, tier_tokens, lineage, achievements[:2]


def get(client, token: str, path: str, **params) -> dict:
    response = client.get(path, params=params, headers=bearer(token))
    assert response.status_code == 200, (path, params, response.text)
    return response.json()


def walk(client, token: str, tier: str, achievements: list[str]) -> list[dict]:
    """Every read endpoint, for every politics type (and none), every scope; filters the tier may use."""
    types = sorted({e["type"] for e in EXAMPLES})
    answers = []
    for kind in [None, *types]:
        params = {"pageSize": 1000} | ({"type": kind} if kind else {})
        body = get(client, token, "/api/politics/telemetry/events", **params)
        expected = sum(kind is None or e["type"] == kind for e in EXAMPLES)
        assert body["meta"]["total"] == expected == len(body["data"]), (tier, kind)
        answers.append(body)
        for scope in ("company", "user", "all"):
            stats = get(client, token, "/api/politics/telemetry/stats", scope=scope, **({"type": kind} if kind else {}))
            assert stats["data"]["totals"], (tier, kind, scope)
            answers.append(stats)
    player = {"engineer": {"userId": "u-00042"}, "analyst": {"userKey": keyed("u-00042")}, "viewer": {}}[tier]
    answers.append(get(client, token, "/api/politics/achievements", **player))
    answers.append(get(client, token, "/api/politics/achievements/progress", **player))
    answers.append(get(client, token, "/api/politics/achievements/progress", achievementId=achievements[0]))
    if player:
        body = get(client, token, "/api/politics/telemetry/events", **player)
        assert body["meta"]["total"] == sum(e.get("userId") == "u-00042" for e in EXAMPLES)
        answers.append(body)
    redeemed = client.post("/api/politics/achievements/redeem", json={"achievementId": achievements[0],
                                                                       "userId": "u-00042"}, headers=bearer(token))
    assert redeemed.status_code == 200, redeemed.text
    answers.append(redeemed.json())
    return answers


def strings(node) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(strings(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(strings(v) for v in node)) if node else set()
    return {node} if isinstance(node, str) else set()


def forbidden(tier: str, lineage: set[str]) -> set[str]:
    """Values a tier must never be shown: raw player ids (no tier), raw company ids and lineage (analyst,
    viewer), and the keyed hashes of player and company ids (viewer)."""
    out = set(PLAYERS)
    if tier != "engineer":
        out |= COMPANIES | lineage
    if tier == "viewer":
        out |= {keyed(v) for v in PLAYERS | COMPANIES}
    return out


@pytest.mark.parametrize("tier", TIERS)
def test_no_tier_is_shown_an_identifier_it_must_not_see(lake, tier):
    client, tier_tokens, lineage, achievements = lake
    answers = walk(client, tier_tokens[tier], tier, achievements)
    seen = set().union(*(strings(a) for a in answers))
    leaked = seen & forbidden(tier, lineage)
    assert not leaked, f"{tier} was shown {sorted(leaked)}"
    text = json.dumps(answers)
    for raw in PLAYERS | (COMPANIES if tier != "engineer" else set()):
        assert f'"{raw}"' not in text and not any(raw in s for s in seen if len(raw) >= 4), (tier, raw)
    # and what each tier is meant to see is there (the walk is not vacuous)
    assert {e["eventId"] for e in EXAMPLES} <= seen
    shown = {"engineer": COMPANIES | {keyed(p) for p in PLAYERS} | lineage,
             "analyst": {keyed(c) for c in COMPANIES} | {keyed(p) for p in PLAYERS},
             "viewer": set()}[tier]
    assert shown <= seen, f"{tier} was not shown {sorted(shown - seen)}"


def test_each_identifier_field_per_tier(lake):
    """Field by field on ENDORSEMENT and DEBATE_RESULT 1.1 (a company pair, a player list)."""
    client, tier_tokens, _, _ = lake
    endorsement = next(e for e in EXAMPLES if e["type"] == "ENDORSEMENT")
    debate = next(e for e in EXAMPLES if e["type"] == "DEBATE_RESULT" and e["metaVersion"] == 1.1)
    expected = {
        "engineer": (lambda c: c, lambda p: keyed(p)),
        "analyst": (lambda c: keyed(c), lambda p: keyed(p)),
        "viewer": (lambda c: None, lambda p: None),
    }
    for tier, (company, player) in expected.items():
        rows = get(client, tier_tokens[tier], "/api/politics/telemetry/events", pageSize=1000)["data"]
        by_id = {r["eventId"]: r for r in rows}
        row = by_id[endorsement["eventId"]]
        for name in ("companyId", "fromCompanyId", "toCompanyId"):
            assert row[name] == company(endorsement[name]), (tier, name)
        assert row["userKey"] == player(endorsement["userId"]) and row["boost"] == endorsement["boost"]
        row = by_id[debate["eventId"]]
        assert row["participants"] == (None if tier == "viewer" else [player(p) for p in debate["participants"]])
        assert row["debateId"] == debate["debateId"]  # game content: every tier
        assert row["sessionKey"] is None and (row["batchId"] is None) == (tier != "engineer")


ROUTES = ("/api/politics/telemetry/events", "/api/politics/telemetry/stats", "/api/politics/achievements",
          "/api/politics/achievements/progress")


def test_identifier_filters_each_tier_may_use(lake):
    """engineer: userId, userKey, companyId (raw); analyst: userKey, companyId (hashed); viewer: none (403,
    nothing counted)."""
    client, tier_tokens, _, _ = lake
    allowed = {"engineer": {"userId": "u-00042", "userKey": keyed("u-00042"), "companyId": "co-7"},
               "analyst": {"userKey": keyed("u-00042"), "companyId": keyed("co-7")}, "viewer": {}}
    refused = {"engineer": {}, "analyst": {"userId": "u-00042"},
               "viewer": {"userId": "u-00042", "userKey": keyed("u-00042"), "companyId": "co-7"}}
    for tier in TIERS:
        for route in ROUTES:
            if route.startswith("/api/politics/achievements"):
                cases = {k: v for k, v in {**allowed[tier], **refused[tier]}.items() if k != "companyId"}
            else:
                cases = {**allowed[tier], **refused[tier]}
            for name, value in cases.items():
                response = client.get(route, params={name: value}, headers=bearer(tier_tokens[tier]))
                if name in allowed[tier]:
                    assert response.status_code == 200, (tier, route, name, response.text)
                else:
                    assert response.status_code == 403, (tier, route, name, response.text)
                    assert set(response.json()) == {"ok", "error"} and name in response.json()["error"]["message"]
    at_co7 = sum(e.get("companyId") == "co-7" for e in EXAMPLES)
    events = "/api/politics/telemetry/events"
    assert get(client, tier_tokens["analyst"], events, companyId=keyed("co-7"))["meta"]["total"] == at_co7
    assert get(client, tier_tokens["analyst"], events, companyId="co-7")["meta"]["total"] == 0  # a raw id: nothing
    assert get(client, tier_tokens["engineer"], events, companyId="co-7")["meta"]["total"] == at_co7
    stats = get(client, tier_tokens["analyst"], "/api/politics/telemetry/stats", companyId=keyed("co-7"))
    assert {t["scopeId"] for t in stats["data"]["totals"]} == {keyed("co-7")}
    assert sum(t["count"] for t in stats["data"]["totals"]) == at_co7
    raw = get(client, tier_tokens["analyst"], "/api/politics/telemetry/stats", companyId="co-7")
    assert raw["data"]["totals"] == []
    bound = tier_tokens["analyst-bound"]
    assert get(client, bound, events)["meta"]["total"] == at_co7
    assert get(client, bound, events, companyId=keyed("co-7"))["meta"]["total"] == at_co7
    assert client.get(events, params={"companyId": "co-7"}, headers=bearer(bound)).status_code == 403
