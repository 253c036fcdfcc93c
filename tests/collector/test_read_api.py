"""docs/requirements/politics.md#apis read API: filters, pagination, envelope, hashed ids, tier masking, company binding, redeem."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collector_support import bearer

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def politics(n: int, kind: str, user: str, company: str, minutes_ago: int) -> dict:
    at = (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")
    base = {"type": kind, "eventId": f"p-{n}", "createdAt": at, "userId": user, "companyId": company}
    if kind == "BILL_VOTE":
        return {**base, "billId": "HB-1001", "stance": "YEA", "seatWeight": 1.5}
    return {**base, "difficultyTier": 2, "success": n % 2 == 0, "spend": 100.0 + n}


EVENTS = ([politics(i, "BILL_VOTE", f"u{i % 3}", "co-a" if i % 2 else "co-b", 50 - i) for i in range(12)]
          + [politics(100 + i, "LOBBY_ATTEMPT", "u9", "co-a", 40 - i) for i in range(4)])


@pytest.fixture
def loaded(client, tokens):
    response = client.post("/v1/events", json=EVENTS, headers=bearer(tokens.engineer))
    assert response.json()["accepted"] == len(EVENTS), response.text
    client.app.state.collector.land_own(rotate=True)
    return client


def get(client, token, path, **params):
    response = client.get(path, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and set(body) == {"ok", "data", "meta"}
    return body


def test_events_filters_and_pages(loaded, tokens):
    body = get(loaded, tokens.engineer, "/api/politics/telemetry/events", type="BILL_VOTE", pageSize=5, page=1)
    assert body["meta"] | {"total": 12, "page": 1, "pageSize": 5, "hasMore": True} == body["meta"]
    votes = sorted((e for e in EVENTS if e["type"] == "BILL_VOTE"), key=lambda e: e["createdAt"])
    assert [e["eventId"] for e in body["data"]] == [e["eventId"] for e in votes[:5]]
    assert body["data"][0]["type"] == "BILL_VOTE" and body["data"][0]["billId"] == "HB-1001"
    last = get(loaded, tokens.engineer, "/api/politics/telemetry/events", type="BILL_VOTE", pageSize=5, page=3)
    assert [e["eventId"] for e in last["data"]] == [e["eventId"] for e in votes[10:]] and not last["meta"]["hasMore"]
    by_user = get(loaded, tokens.engineer, "/api/politics/telemetry/events", userId="u1")
    assert sorted(e["eventId"] for e in by_user["data"]) == sorted(e["eventId"] for e in EVENTS if e["userId"] == "u1")
    assert "u1" not in str(by_user["data"])  # only the hashed key comes back
    by_company = get(loaded, tokens.engineer, "/api/politics/telemetry/events", companyId="co-a", type="lobby_attempt")
    assert by_company["meta"]["total"] == 4
    window_from = (NOW - timedelta(minutes=45)).isoformat()
    window_to = (NOW - timedelta(minutes=40)).isoformat()
    ranged = get(loaded, tokens.engineer, "/api/politics/telemetry/events", **{"from": window_from, "to": window_to})
    expected = [e for e in EVENTS if window_from <= e["createdAt"].replace("Z", "+00:00") < window_to]
    assert sorted(e["eventId"] for e in ranged["data"]) == sorted(e["eventId"] for e in expected)


def test_tiers_mask_columns(loaded, tokens):
    engineer = get(loaded, tokens.engineer, "/api/politics/telemetry/events", pageSize=1)["data"][0]
    analyst = get(loaded, tokens.analyst, "/api/politics/telemetry/events", pageSize=1)["data"][0]
    viewer = get(loaded, tokens.viewer, "/api/politics/telemetry/events", pageSize=1)
    assert engineer["userKey"] and engineer["batchId"] and engineer["companyId"]
    assert analyst["userKey"] == engineer["userKey"] and analyst["batchId"] is None
    assert viewer["data"][0]["userKey"] is None and viewer["data"][0]["companyId"] is None
    assert viewer["data"][0]["eventId"] == engineer["eventId"]
    assert "userKey" in viewer["meta"]["masked"]


def test_company_bound_token_sees_its_company_only(loaded, tokens):
    body = get(loaded, tokens.company_a, "/api/politics/telemetry/events", pageSize=100)
    assert body["meta"]["total"] == sum(e["companyId"] == "co-a" for e in EVENTS)
    other = loaded.get("/api/politics/telemetry/events", params={"companyId": "co-b"}, headers=bearer(tokens.company_a))
    assert other.status_code == 403
    assert loaded.get("/api/politics/telemetry/stats", params={"scope": "user"},
                      headers=bearer(tokens.company_a)).status_code == 403


def test_bad_parameters_are_400(loaded, tokens):
    for params in ({"page": 0}, {"pageSize": 100000}, {"from": "yesterday"}, {"type": "*"},
                   {"type": "x/../../quarantine"}):
        response = loaded.get("/api/politics/telemetry/events", params=params, headers=bearer(tokens.engineer))
        assert response.status_code == 400, (params, response.text)
        assert response.json()["ok"] is False


def write_marts(data_dir, keys_of) -> None:
    marts = data_dir / "marts"
    marts.mkdir(parents=True, exist_ok=True)
    day1, day2 = date(2026, 11, 1), date(2026, 11, 2)
    rows = [  # (date, type, scope, scope_id, count, users, outcomes, successes, values…)
        (day1, "politics_lobby_attempt", "company", "co-a", 4, 2, 4, 1, 4, 400.0, 40400.0, 90.0, 110.0),
        (day2, "politics_lobby_attempt", "company", "co-a", 2, 1, 2, 2, 2, 300.0, 45000.0, 140.0, 160.0),
        (day1, "politics_lobby_attempt", "company", "co-b", 1, 1, 1, 0, 1, 50.0, 2500.0, 50.0, 50.0),
    ]
    names = ["event_date", "event_type", "scope", "scope_id", "events", "distinct_players", "outcome_count",
             "success_count", "value_count", "value_sum", "value_sum_squares", "value_min", "value_max"]
    table = pa.Table.from_pylist([dict(zip(names, r)) for r in rows])
    table = table.append_column("success_rate", pa.array([r[7] / r[6] for r in rows]))
    table = table.append_column("value_avg", pa.array([r[9] / r[8] for r in rows]))
    table = table.append_column("value_stddev", pa.array([0.0] * len(rows)))
    pq.write_table(table, marts / "agg_politics_daily.parquet")
    player_days = [(day1, "co-a", "u1"), (day1, "co-a", "u2"), (day2, "co-a", "u1"), (day1, "co-b", "u3")]
    pq.write_table(pa.Table.from_pylist([{"event_date": d, "event_type": "politics_lobby_attempt", "company_id": c,
                                          "player_key": keys_of(u), "events": 1} for d, c, u in player_days]),
                   marts / "fct_politics_player_days.parquet")
    progress = [{"player_key": keys_of("u9"), "achievement_id": "lobbyist", "achievement_name": "Lobbyist",
                 "category": "influence", "event_type": "politics_lobby_attempt", "progress": 10, "target": 10,
                 "progress_ratio": 1.0, "is_unlocked": True, "unlocked_date": day2, "first_progress_date": day1,
                 "last_progress_date": day2},
                {"player_key": keys_of("u1"), "achievement_id": "lobbyist", "achievement_name": "Lobbyist",
                 "category": "influence", "event_type": "politics_lobby_attempt", "progress": 3, "target": 10,
                 "progress_ratio": 0.3, "is_unlocked": False, "unlocked_date": None, "first_progress_date": day1,
                 "last_progress_date": day1}]
    pq.write_table(pa.Table.from_pylist(progress), marts / "fct_politics_achievement_progress.parquet")


def test_stats_from_the_daily_mart(loaded, tokens, tmp_path):
    collector = loaded.app.state.collector
    write_marts(tmp_path / "data", lambda u: collector.key_candidates(u)[0])
    body = get(loaded, tokens.engineer, "/api/politics/telemetry/stats", type="LOBBY_ATTEMPT", scope="company",
               companyId="co-a", **{"from": "2026-11-01", "to": "2026-11-02"})
    (total,) = body["data"]["totals"]
    n, s, q = 6, 700.0, 85400.0
    assert total["count"] == 6 and total["successRate"] == pytest.approx(3 / 6)
    variance = (q - s * s / n) / (n - 1)  # sample (n − 1), as the marts' stddev_samp
    assert total["avg"] == pytest.approx(s / n) and total["variance"] == pytest.approx(variance)
    assert total["stdDev"] == pytest.approx(variance ** 0.5)
    # u1 on both days counts once: 2 users in the period, where the daily rows add up to 2 + 1
    assert total["distinctUsers"] == 2
    assert (total["min"], total["max"]) == (90.0, 160.0)
    assert [d["date"] for d in body["data"]["daily"]] == ["2026-11-01", "2026-11-02"]
    one_day = get(loaded, tokens.engineer, "/api/politics/telemetry/stats", scope="company", **{"from": "2026-11-01",
                                                                                               "to": "2026-11-01"})
    assert sorted(t["count"] for t in one_day["data"]["totals"]) == [1, 4]
    viewer = get(loaded, tokens.viewer, "/api/politics/telemetry/stats", scope="company")
    assert all(t["scopeId"] is None for t in viewer["data"]["totals"])


def test_achievements_progress_and_idempotent_durable_redeem(loaded, tokens, tmp_path):
    collector = loaded.app.state.collector
    write_marts(tmp_path / "data", lambda u: collector.key_candidates(u)[0])
    catalogue = get(loaded, tokens.engineer, "/api/politics/achievements", category="influence")["data"]
    assert {a["id"] for a in catalogue} >= {"lobbyist", "power_broker"}
    assert all(a["category"] == "influence" for a in catalogue)
    mine = get(loaded, tokens.engineer, "/api/politics/achievements", ids="lobbyist", userId="u9")["data"]
    assert mine[0]["progress"][0]["unlocked"] is True and mine[0]["progress"][0]["progress"] == 10
    focused = get(loaded, tokens.engineer, "/api/politics/achievements/progress", achievementId="lobbyist")["data"]
    assert sorted(p["progress"] for p in focused) == [3, 10]
    first = loaded.post("/api/politics/achievements/redeem", json={"achievementId": "lobbyist", "userId": "u9"},
                        headers=bearer(tokens.engineer))
    assert first.status_code == 200, first.text
    assert first.json()["data"]["alreadyRedeemed"] is False
    second = loaded.post("/api/politics/achievements/redeem", json={"achievementId": "lobbyist", "userId": "u9"},
                         headers=bearer(tokens.engineer))
    assert second.json()["data"]["alreadyRedeemed"] is True
    assert second.json()["data"]["redeemedAt"] == first.json()["data"]["redeemedAt"]
    stored = (tmp_path / "data" / "collector" / "redemptions.jsonl").read_text()
    assert stored.count("\n") == 1 and "u9" not in stored
    locked = loaded.post("/api/politics/achievements/redeem", json={"achievementId": "lobbyist", "userId": "u1"},
                         headers=bearer(tokens.engineer))
    assert locked.status_code == 409
    unknown = loaded.post("/api/politics/achievements/redeem", json={"achievementId": "nope", "userId": "u9"},
                          headers=bearer(tokens.engineer))
    assert unknown.status_code == 404
    assert loaded.post("/api/politics/achievements/redeem", json={"achievementId": "lobbyist", "userId": "u9"},
                       headers=bearer(tokens.read_only)).status_code == 403
