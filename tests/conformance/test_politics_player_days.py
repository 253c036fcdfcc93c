"""docs/requirements/politics.md#aggregates distinctUsers of a period are counted from the player-day table
`fct_politics_player_days`, which
outlives the 14-day raw retention. It had another name before (`int_politics__player_days`); a warehouse that
still holds the older table keeps that history through the first build under the new name."""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb
import pytest

from conformance_support import ingest_lines, keyed_hash
from ingest.warehouse import run_dbt

pytestmark = [pytest.mark.dbt]
BUILD = ["build", "--select", "+fct_politics_player_days", "--exclude-resource-type", "test",
         "--exclude-resource-type", "unit_test"]


def test_the_player_day_table_takes_over_the_history_of_its_previous_name(tmp_path):
    data = tmp_path / "d"
    line = json.dumps({"type": "BILL_VOTE", "metaVersion": 1, "createdAt": "2025-03-02T10:00:00Z", "userId": "u-1",
                       "companyId": "co-1", "billId": "HB-1001", "stance": "YEA", "seatWeight": 1.5})
    assert ingest_lines(data, tmp_path, "vote.jsonl", [line], "2025-03-02T12:00:00Z")["landed"] == 1
    # the older table, as an earlier build left it: one day the lake no longer holds, one it still holds
    old = [(date(2025, 1, 5), "bill_vote", "co-1", "old-user", 4), (date(2025, 3, 2), "bill_vote", "co-1", "stale", 9)]
    with duckdb.connect(str(data / "warehouse.duckdb")) as con:
        con.execute("create table main.int_politics__player_days (event_date date, event_type varchar, "
                    "company_id varchar, player_key varchar, events bigint, _ledger_finished_at_max timestamp)")
        con.executemany("insert into main.int_politics__player_days values (?, ?, ?, ?, ?, ?)",
                        [(*row, datetime(2025, 1, 6)) for row in old])
    run_dbt(BUILD, data, quiet=True)
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("select event_date, player_key, events from fct_politics_player_days order by 1").fetchall()
    # the day only the older table holds is kept; the day the lake holds is rebuilt from the lake
    assert rows == [(date(2025, 1, 5), "old-user", 4), (date(2025, 3, 2), keyed_hash("u-1"), 1)]
