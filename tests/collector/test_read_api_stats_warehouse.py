"""docs/requirements/politics.md#aggregates/§7 stats over a built warehouse: the totals of a period use the same standard deviation as the
marts (sample, n − 1), report the variance the seed lists, and count a period's distinct users once each, not
as the sum of the days' counts. Expected values come from Python's `statistics` over the values sent."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from collector_support import bearer
from ingest.warehouse import run_dbt

pytestmark = [pytest.mark.dbt]

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SELECT = ["--select", "+agg_politics_daily", "+fct_politics_player_days", "--exclude-resource-type", "test",
          "--exclude-resource-type", "unit_test"]
# (user, company, minutes ago, spend): u1 on both days for co-a, u2 only yesterday, u3 today for co-b; the two
# groups are 25 hours apart, so they always fall on two UTC dates
SENT = [("u1", "co-a", 1500, 120.0), ("u1", "co-a", 1498, 80.0), ("u2", "co-a", 1496, 310.5),
        ("u1", "co-a", 5, 45.0), ("u1", "co-a", 3, 99.0), ("u3", "co-b", 2, 1000.0)]


def lobby(n: int, user: str, company: str, minutes_ago: int, spend: float) -> dict:
    at = (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")
    return {"type": "LOBBY_ATTEMPT", "eventId": f"stats-{n}", "createdAt": at, "userId": user, "companyId": company,
            "difficultyTier": 2, "success": n % 2 == 0, "spend": spend}


def test_stats_totals_use_the_marts_sample_stddev_and_count_distinct_users_over_the_period(client, tokens, tmp_path):
    events = [lobby(n, *row) for n, row in enumerate(SENT)]
    assert client.post("/v1/events", json=events, headers=bearer(tokens.engineer)).json()["accepted"] == len(SENT)
    client.app.state.collector.land_own(rotate=True)
    data_dir = tmp_path / "data"
    run_dbt(["build", *SELECT], data_dir, quiet=True)
    first = (NOW - timedelta(minutes=1500)).date().isoformat()
    answer = client.get("/api/politics/telemetry/stats", headers=bearer(tokens.engineer),
                        params={"type": "LOBBY_ATTEMPT", "scope": "company", "from": first,
                                "to": NOW.date().isoformat()})
    assert answer.status_code == 200, answer.text
    totals = {t["scopeId"]: t for t in answer.json()["data"]["totals"]}
    spends = [spend for _, company, _, spend in SENT if company == "co-a"]
    assert totals["co-a"]["count"] == 5
    assert totals["co-a"]["variance"] == pytest.approx(statistics.variance(spends))
    assert totals["co-a"]["stdDev"] == pytest.approx(statistics.stdev(spends))
    assert totals["co-a"]["distinctUsers"] == 2  # u1 and u2; the days' rows say 2 + 1
    assert sum(d["distinctUsers"] for d in answer.json()["data"]["daily"] if d["scopeId"] == "co-a") == 3
    assert totals["co-b"]["stdDev"] is None and totals["co-b"]["distinctUsers"] == 1  # one value: no spread
    everyone = client.get("/api/politics/telemetry/stats", headers=bearer(tokens.engineer),
                          params={"type": "LOBBY_ATTEMPT", "scope": "all"}).json()["data"]["totals"]
    assert [(t["distinctUsers"], t["count"]) for t in everyone] == [(3, 6)]
    assert everyone[0]["stdDev"] == pytest.approx(statistics.stdev(spend for *_, spend in SENT))
    # the mart stores the variance, and the API's daily rows and the mart agree with stddev_samp's square
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        stored = con.sql("select value_variance, value_stddev from agg_politics_daily "
                         "where scope = 'all' and value_count > 1").fetchall()
    assert stored and all(variance == pytest.approx(stddev ** 2) for variance, stddev in stored)
