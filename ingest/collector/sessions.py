"""docs/requirements/learning.md#apis session close: find a session's first and last landed event and record the close durably.

The close is kept in the lake, ``lake/_closes/<hashed session id>.parquet`` (first and last event time, event
count, close time; written atomically), where ``fct_learning_sessions`` reads it. Closing twice answers the
first close. The features are not computed here: the next ``dbt build`` closes the session and extracts them
(one definition of the features, in the warehouse), and the answer's message says so.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from ..lake.layout import Lake
from .core import Collector

CLOSED_MESSAGE = "Session closed; its behavioral features are extracted at the next warehouse build (dbt build)"
"""The close answer's ``message``. The seed's answer says the features are extracted; here they are computed by
the warehouse (``fct_learning_session_features``), so the message says when (docs/families/learning.md)."""


def _iso(value: datetime) -> str:
    """``2025-11-13T12:00:00Z`` as the seed writes it (milliseconds only when there are any)."""
    spec = "seconds" if value.microsecond == 0 else "milliseconds"
    return value.replace(tzinfo=timezone.utc).isoformat(timespec=spec).replace("+00:00", "Z")


def session_span(lake: Path, keys: list[str]) -> tuple[datetime, datetime, int] | None:
    """(first event time, last event time, events) of learning events whose hashed session is in ``keys``."""
    files = list((lake / "events").glob("event_type=learning_*/event_date=*/*.parquet"))
    if not files:
        return None
    con = duckdb.connect()
    try:
        con.execute("set TimeZone='UTC'")
        row = con.execute(
            "select min(occurred_at), max(occurred_at), count(*) from read_parquet(?, union_by_name=true) "
            "where session_id in (select unnest(?::varchar[]))", [[str(f) for f in files], keys]).fetchone()
    finally:
        con.close()
    if row is None or not row[2]:
        return None
    return row[0], row[1], int(row[2])


def close_session(collector: Collector, session_id: str) -> dict[str, Any] | None:
    """Land what this process has spooled, then close ``session_id``: the docs/requirements/learning.md#apis response, or None when no
    event of the session has landed. The close is recorded in the lake (``lake/_closes/``) once; the warehouse
    then closes the session for feature extraction at its next build."""
    keys = collector.key_candidates(session_id)
    lake = Lake(collector.data_dir / "lake")
    previous = lake.session_close(keys)
    if previous is None:
        collector.land_own(rotate=True)
        span = session_span(lake.root, keys)
        if span is None:
            return None
        started, ended, count = span
        previous = {"session_id": keys[0], "started_at": started, "ended_at": ended, "events": count,
                    "closed_at": datetime.now(timezone.utc).replace(tzinfo=None)}
        lake.record_session_close(previous)
    return {"session_id": session_id, "status": "closed", "started_at": _iso(previous["started_at"]),
            "ended_at": _iso(previous["ended_at"]), "message": CLOSED_MESSAGE}
