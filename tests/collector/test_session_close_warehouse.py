"""The docs/requirements/learning.md#apis close call closes the session in the warehouse at the next build: the session counts as closed and
its features are extracted, without waiting 30 minutes of inactivity."""

from __future__ import annotations

import duckdb
import pytest

from collector_support import bearer, learning_event
from ingest.warehouse import run_dbt

pytestmark = [pytest.mark.dbt]

SELECT = ["--select", "stg_ops__session_closes", "+fct_learning_session_features", "--indirect-selection", "cautious"]


def closed_sessions(data_dir) -> dict[int, bool]:
    """events per session → is_closed, and whether features exist, from the built warehouse."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.sql("select sessions.events, sessions.is_closed, features.session_id is not null "
                       "from fct_learning_sessions as sessions left join fct_learning_session_features as features "
                       "on sessions.session_id = features.session_id").fetchall()
    return {events: (closed, has_features) for events, closed, has_features in rows}


def test_a_closed_session_gets_its_features_at_the_next_build(client, tokens, tmp_path):
    # two sessions whose last event is now: neither is closed by inactivity
    events = [learning_event(n, session="closed-by-call") for n in range(3)]
    events += [learning_event(10 + n, session="still-open") for n in range(2)]
    assert client.post("/v1/events", json=events, headers=bearer(tokens.engineer)).json()["accepted"] == 5
    closed = client.post("/api/v1/telemetry/session/closed-by-call/close", headers=bearer(tokens.engineer))
    assert closed.status_code == 200, closed.text
    data_dir = tmp_path / "data"
    run_dbt(["build", *SELECT], data_dir, quiet=True)
    # sessions are told apart by their event counts (3 and 2); their ids are hashed in the warehouse
    assert closed_sessions(data_dir) == {3: (True, True), 2: (False, False)}
