"""Seed 004 session close: find a session's first and last landed event and record the close durably.

The close is kept in ``<data>/collector/closed_sessions.jsonl`` (one JSON line per session: hashed session id,
first and last event time, event count, close time), appended with fsync. Closing twice answers the first close.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import orjson

from .core import Collector

CLOSED_MESSAGE = "Session closed and behavioral features extracted"


def closed_file(data_dir: Path) -> Path:
    return Path(data_dir) / "collector" / "closed_sessions.jsonl"


def _iso(value: datetime) -> str:
    """``2025-11-13T12:00:00Z`` as the seed writes it (milliseconds only when there are any)."""
    spec = "seconds" if value.microsecond == 0 else "milliseconds"
    return value.replace(tzinfo=timezone.utc).isoformat(timespec=spec).replace("+00:00", "Z")


def _previous(path: Path, keys: set[str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    for line in path.read_bytes().splitlines():
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a torn last line of a killed write
        if row.get("session_key") in keys:
            return row
    return None


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
    """Land what this process has spooled, then close ``session_id``: the seed 004 response, or None when no
    event of the session has landed."""
    keys = collector.key_candidates(session_id)
    path = closed_file(collector.data_dir)
    previous = _previous(path, set(keys))
    if previous is None:
        collector.land_own(rotate=True)
        span = session_span(collector.data_dir / "lake", keys)
        if span is None:
            return None
        started, ended, count = span
        previous = {"session_key": keys[0], "started_at": _iso(started), "ended_at": _iso(ended), "events": count,
                    "closed_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, orjson.dumps(previous) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    return {"session_id": session_id, "status": "closed", "started_at": previous["started_at"],
            "ended_at": previous["ended_at"], "message": CLOSED_MESSAGE}
