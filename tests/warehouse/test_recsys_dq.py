"""dq_recsys_daily on the tiny lake (conftest.py): the docs/requirements/recsys.md#data-quality rates per event type
and day, hand-computed from the
scenario, before and after the late batch.

The scenario's request ids are UUID v5 (validity asks for v4), errors without a request are not judged for join
integrity, and the SLA is 24 h between occurred_at and received_at: batch one was received 2024-01-03 00:30, so
the 01-01 events are late and most 01-02 ones on time; the late batch (received 2024-03-07) is late.
"""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = [pytest.mark.dbt]

RATES = ["completeness_rate", "consistency_rate", "validity_rate", "join_integrity_rate", "timeliness_rate"]


def _row(snapshot, event_type: str, day: str) -> dict:
    frame = snapshot.tables["dq_recsys_daily"]
    rows = [r for r in frame.to_dicts() if r["event_type"] == event_type and r["event_date"] == date.fromisoformat(day)]
    assert len(rows) == 1, (event_type, day, rows)
    return rows[0]


def test_requests_of_the_first_day(built_lake):
    got = _row(built_lake, "recsys_request", "2024-01-01")  # r1, r2, r3: all ranked, none within 24 h
    assert got["events"] == 3
    assert [got[r] for r in RATES] == [1.0, 1.0, 0.0, 1.0, 0.0]


def test_errors_without_a_request_are_not_judged_for_joins(built_lake):
    got = _row(built_lake, "recsys_error", "2024-01-01")  # e1 names r3; e2 names no request
    assert got["events"] == 2
    assert got["join_integrity_judged"] == 1 and got["join_integrity_rate"] == 1.0
    assert got["consistency_judged"] == 1 and got["consistency_rate"] == 1.0
    assert got["validity_rate"] == 0.5  # e1's request id is a v5 UUID; e2 has none to check


def test_late_batch_lowers_timeliness_of_the_days_it_touches(built_lake, incremental_lake):
    before = _row(built_lake, "recsys_request", "2024-01-02")  # r4, r5 received 15.5 h and 14.5 h later
    after = _row(incremental_lake, "recsys_request", "2024-01-02")  # + r8, received two months later
    assert (before["events"], before["timeliness_rate"]) == (2, 1.0)
    assert (after["events"], after["timeliness_rate"]) == (3, pytest.approx(2 / 3))
    # clicks of 01-02: r2's (24 h 40 min after, late), r4's two (on time), then r1's late click and r8's
    assert _row(built_lake, "recsys_click", "2024-01-02")["timeliness_rate"] == pytest.approx(2 / 3)
    clicks = _row(incremental_lake, "recsys_click", "2024-01-02")
    assert (clicks["events"], clicks["timeliness_rate"], clicks["join_integrity_rate"]) == (5, 0.4, 1.0)


def test_impressions_match_their_ranking(built_lake):
    got = _row(built_lake, "recsys_impression", "2024-01-01")  # r1 × 3, r2 × 2, r3 × 2 (i7 never shown)
    assert got["events"] == 7
    assert got["consistency_rate"] == 1.0 and got["join_integrity_rate"] == 1.0 and got["completeness_rate"] == 1.0
