"""Seed 000 §7 read API: raw politics events from the lake, stats and achievement progress from the published
marts, read-only through DuckDB; redeem recorded durably (DESIGN §13).

Envelope: ``{"ok": true, "data": …, "meta": …}``; errors ``{"ok": false, "error": {"code", "message"}}``.
``userId`` filters are hashed with every key of the keyring (the lake holds only ``player_key``); ``companyId``
is matched as the lake stores it (as sent, or hashed when the registry marks it personal). Seed 003 tiers mask
columns (:data:`MASKED`); a token bound to a company reads only that company's rows.
"""

from __future__ import annotations

import csv
import fcntl
import os
import re
import threading
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import orjson
from fastapi import FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from .core import Collector
from .http import Auth, HttpProblem, parse_json, read_body
from .tokens import Token

MASKED: dict[str, frozenset[str]] = {
    "engineer": frozenset(),
    "analyst": frozenset({"sessionKey", "hashKeyId", "batchId"}),
    "viewer": frozenset({"userKey", "companyId", "sessionKey", "hashKeyId", "batchId", "scopeId"}),
}
"""Seed 003 column-level masking: what each tier sees as null (engineer: nothing masked; analyst: pseudonymous
user and company ids but no session or lineage columns; viewer: no identifier at all)."""

ENVELOPE = {"event_id": "eventId", "event_type": "type", "schema_version": "metaVersion", "occurred_at": "createdAt",
            "received_at": "receivedAt", "player_key": "userKey", "company_id": "companyId",
            "session_id": "sessionKey", "hash_key_id": "hashKeyId", "batch_id": "batchId", "event_date": "eventDate",
            "sample_rate": "sampleRate"}
HIDDEN = {"occurred_at_source", "schema_version_source"}
MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000_000
"""Highest page number (the row offset stays within a 64-bit integer)."""


def envelope(data: Any, meta: dict[str, Any], token: Token) -> Response:
    meta = {**meta, "tier": token.tier, "masked": sorted(MASKED[token.tier])}
    return Response(orjson.dumps({"ok": True, "data": data, "meta": meta},
                                 option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS),
                    200, media_type="application/json")


def mask(row: dict[str, Any], token: Token) -> dict[str, Any]:
    hidden = MASKED[token.tier]
    return {k: (None if k in hidden else v) for k, v in row.items()}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def parse_moment(value: str | None, name: str, *, end: bool = False) -> datetime | None:
    """``from``/``to``: an ISO date (a whole UTC day) or timestamp. Raises HttpProblem 400."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, time())
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HttpProblem(400, "invalid_parameter", f"{name} must be an ISO 8601 date or timestamp") from None
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def event_type_of(value: str | None) -> str | None:
    """``BILL_VOTE`` / ``bill_vote`` → the lake's ``politics_bill_vote``."""
    if value is None:
        return None
    name = value.strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise HttpProblem(400, "invalid_parameter", "type must be an event type name such as BILL_VOTE")
    return "politics_" + name


def seed_type(lake_type: str) -> str:
    return lake_type.removeprefix("politics_").upper()


class Reader:
    """Read-only queries over one data directory's lake and published marts."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.data_dir = collector.data_dir
        self.lock = threading.Lock()

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config={"threads": 1})
        con.execute("set TimeZone='UTC'")
        return con

    def mart(self, name: str) -> Path | None:
        path = self.data_dir / "marts" / f"{name}.parquet"
        return path if path.exists() else None

    def event_files(self, lake_type: str | None) -> list[str]:
        pattern = f"event_type={lake_type or 'politics_*'}/event_date=*/*.parquet"
        return [str(p) for p in sorted((self.data_dir / "lake" / "events").glob(pattern))]

    def users(self, user_id: str | None) -> list[str] | None:
        return None if user_id is None else self.collector.key_candidates(user_id)

    def companies(self, company_id: str | None) -> list[str] | None:
        # the lake keeps companyId as the registry says: as sent, or hashed (then every key's hash can match)
        return None if company_id is None else [company_id, *self.collector.key_candidates(company_id)]

    def events(self, lake_type: str | None, users: list[str] | None, companies: list[str] | None,
               start: datetime | None, end: datetime | None, page: int, page_size: int) -> tuple[list[dict], int]:
        files = self.event_files(lake_type)
        if not files:
            return [], 0
        where, params = ["true"], []
        if users is not None:
            where.append("player_key in (select unnest(?::varchar[]))")
            params.append(users)
        if companies is not None:
            where.append("company_id in (select unnest(?::varchar[]))")
            params.append(companies)
        if start is not None:
            where += ["occurred_at >= ?", "event_date >= ?"]
            params += [start, start.date()]
        if end is not None:
            where += ["occurred_at < ?", "event_date <= ?"]
            params += [end, end.date()]
        source = "read_parquet(?, hive_partitioning=true, union_by_name=true)"
        con = self.connect()
        try:
            if companies is not None and "company_id" not in [c[0] for c in con.execute(
                    f"describe select * from {source}", [files]).fetchall()]:
                return [], 0
            condition = " and ".join(where)
            total = con.execute(f"select count(*) from {source} where {condition}", [files, *params]).fetchone()[0]
            table = con.execute(f"select * from {source} where {condition} order by occurred_at, event_id "
                                f"limit ? offset ?", [files, *params, page_size, (page - 1) * page_size]).to_arrow_table()
        finally:
            con.close()
        rows = []
        for row in table.to_pylist():
            out: dict[str, Any] = {}
            for key, value in row.items():
                if key in HIDDEN or (value is None and key not in ENVELOPE):
                    continue
                if key == "event_type":
                    value = seed_type(value)
                out[ENVELOPE.get(key, camel(key))] = value
            rows.append(out)
        return rows, int(total)

    def query_mart(self, name: str, where: list[str], params: list[Any], order: str) -> list[dict] | None:
        path = self.mart(name)
        if path is None:
            return None
        con = self.connect()
        try:
            sql = f"select * from read_parquet(?) where {' and '.join(where) or 'true'} order by {order}"
            return con.execute(sql, [str(path), *params]).to_arrow_table().to_pylist()
        finally:
            con.close()


def achievements_catalogue(seeds_dir: Path) -> list[dict[str, Any]]:
    with open(seeds_dir / "politics_achievements.csv", newline="", encoding="utf-8") as handle:
        return [{"id": r["achievement_id"], "name": r["name"], "category": r["category"],
                 "eventType": r["event_type"].upper(), "target": int(r["target"]), "description": r["description"]}
                for r in csv.DictReader(handle)]


def split_ids(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v for value in values for v in value.split(",") if v]


def register(app: FastAPI, collector: Collector, auth: Auth) -> None:
    """Add the five seed 000 §7 routes to ``app``."""
    reader = Reader(collector)
    tag = ["read (seed 000)"]

    def company_scope(token: Token, company_id: str | None) -> str | None:
        if token.company is None:
            return company_id
        if company_id is not None and company_id != token.company:
            raise HttpProblem(403, "forbidden", "this token reads only its own company")
        return token.company

    @app.get("/api/politics/telemetry/events", tags=tag, summary="Raw event stream (filtered)")
    async def events(request: Request, type: str | None = None, companyId: str | None = None,
                     userId: str | None = None, from_: str | None = Query(None, alias="from"),
                     to: str | None = None, page: int = Query(1, ge=1, le=MAX_PAGE),
                     pageSize: int = Query(50, ge=1, le=MAX_PAGE_SIZE)) -> Response:
        token = auth.check(request, "read")
        company = company_scope(token, companyId)
        start, end = parse_moment(from_, "from"), parse_moment(to, "to", end=True)
        rows, total = await run_in_threadpool(reader.events, event_type_of(type), reader.users(userId),
                                              reader.companies(company), start, end, page, pageSize)
        return envelope([mask(r, token) for r in rows],
                        {"page": page, "pageSize": pageSize, "total": total,
                         "hasMore": page * pageSize < total}, token)

    @app.get("/api/politics/telemetry/stats", tags=tag, summary="Aggregated metrics snapshot")
    async def stats(request: Request, type: str | None = None, scope: str = Query("company", pattern="^(company|user|all)$"),
                    companyId: str | None = None, userId: str | None = None,
                    from_: str | None = Query(None, alias="from"), to: str | None = None) -> Response:
        token = auth.check(request, "read")
        company = company_scope(token, companyId)
        if token.company is not None and scope != "company":
            raise HttpProblem(403, "forbidden", "a token bound to a company reads scope=company only")
        start, end = parse_moment(from_, "from"), parse_moment(to, "to", end=True)
        where, params = ["scope = ?"], [scope]
        if type is not None:
            where.append("event_type = ?")
            params.append(event_type_of(type))
        if scope == "company" and company is not None:
            where.append("scope_id in (select unnest(?::varchar[]))")
            params.append(reader.companies(company))
        if scope == "user" and userId is not None:
            where.append("scope_id in (select unnest(?::varchar[]))")
            params.append(reader.users(userId))
        if start is not None:
            where.append("event_date >= ?")
            params.append(start.date())
        if end is not None:
            where.append("event_date < ?")
            params.append(end.date() if end.time() == time() else end.date() + timedelta(days=1))
        rows = await run_in_threadpool(reader.query_mart, "agg_politics_daily", where, params,
                                       "event_date, event_type, scope_id")
        totals: dict[tuple[str, str | None], dict[str, Any]] = {}
        daily = []
        for row in rows or []:
            key = (row["event_type"], row["scope_id"])
            total = totals.setdefault(key, {"type": seed_type(row["event_type"]), "scope": scope,
                                            "scopeId": row["scope_id"], "count": 0, "outcomeCount": 0,
                                            "successCount": 0, "valueCount": 0, "valueSum": 0.0,
                                            "valueSumSquares": 0.0, "min": None, "max": None})
            total["count"] += row["event_count"] or 0
            total["outcomeCount"] += row["outcome_count"] or 0
            total["successCount"] += row["success_count"] or 0
            total["valueCount"] += row["value_count"] or 0
            total["valueSum"] += row["value_sum"] or 0.0
            total["valueSumSquares"] += row["value_sum_squares"] or 0.0
            for name, pick in (("min", min), ("max", max)):
                value = row[f"value_{name}"]
                if value is not None:
                    total[name] = value if total[name] is None else pick(total[name], value)
            daily.append({"date": row["event_date"], "type": seed_type(row["event_type"]), "scopeId": row["scope_id"],
                          "count": row["event_count"], "distinctUsers": row["distinct_users"],
                          "successRate": row["success_rate"], "avg": row["value_avg"], "stdDev": row["value_stddev"],
                          "min": row["value_min"], "max": row["value_max"]})
        out = []
        for total in totals.values():
            n, s, q = total.pop("valueCount"), total.pop("valueSum"), total.pop("valueSumSquares")
            outcomes, successes = total.pop("outcomeCount"), total.pop("successCount")
            total["successRate"] = successes / outcomes if outcomes else None
            total["avg"] = s / n if n else None
            total["stdDev"] = (max(q / n - (s / n) ** 2, 0.0) ** 0.5) if n else None  # population, as the mart
            out.append(total)
        hidden = "scopeId" in MASKED[token.tier] and scope != "all"
        for row in out + daily:
            if hidden:
                row["scopeId"] = None
        return envelope({"totals": out, "daily": daily},
                        {"period": {"from": from_, "to": to}, "scope": scope, "published": rows is not None,
                         "source": "agg_politics_daily"}, token)

    async def progress_rows(token: Token, user_id: str | None, ids: list[str] | None) -> list[dict] | None:
        where, params = [], []
        if user_id is not None:
            where.append("player_key in (select unnest(?::varchar[]))")
            params.append(reader.users(user_id))
        if ids:
            where.append("achievement_id in (select unnest(?::varchar[]))")
            params.append(ids)
        if token.company is not None:
            files = reader.event_files(None)
            if not files:
                return []
            where.append("player_key in (select player_key from read_parquet(?, union_by_name=true) "
                         "where company_id in (select unnest(?::varchar[])))")
            params += [files, reader.companies(token.company)]
        return await run_in_threadpool(reader.query_mart, "fct_politics_achievement_progress", where, params,
                                       "achievement_id, player_key")

    def progress_json(row: dict, token: Token) -> dict:
        return mask({"achievementId": row["achievement_id"], "userKey": row["player_key"],
                     "progress": row["progress"], "target": row["target"], "progressRatio": row["progress_ratio"],
                     "unlocked": row["is_unlocked"], "unlockedDate": row["unlocked_date"]}, token)

    @app.get("/api/politics/achievements", tags=tag, summary="Achievement definitions + progress")
    async def achievements(request: Request, category: str | None = None, ids: list[str] | None = Query(None),
                           userId: str | None = None) -> Response:
        token = auth.check(request, "read")
        wanted = split_ids(ids)
        catalogue = [a for a in achievements_catalogue(collector.registry.seeds_dir) if (category is None or a["category"] == category)
                     and (wanted is None or a["id"] in wanted)]
        rows = await progress_rows(token, userId, [a["id"] for a in catalogue]) if userId is not None else None
        by_id: dict[str, list[dict]] = {}
        for row in rows or []:
            by_id.setdefault(row["achievement_id"], []).append(progress_json(row, token))
        data = [{**a, **({"progress": by_id.get(a["id"], [])} if userId is not None else {})} for a in catalogue]
        return envelope(data, {"count": len(data), "published": rows is not None if userId is not None else None},
                        token)

    @app.get("/api/politics/achievements/progress", tags=tag, summary="Focused progress")
    async def progress(request: Request, achievementId: list[str] | None = Query(None),
                       userId: str | None = None) -> Response:
        token = auth.check(request, "read")
        rows = await progress_rows(token, userId, split_ids(achievementId))
        return envelope([progress_json(r, token) for r in rows or []],
                        {"count": len(rows or []), "published": rows is not None}, token)

    @app.post("/api/politics/achievements/redeem", tags=tag, summary="Redeem optional manual rewards")
    async def redeem(request: Request) -> Response:
        """Body ``{"achievementId", "userId"}``. Idempotent per (user, achievement): a second call answers the
        first redemption (``alreadyRedeemed: true``). Needs the user's progress to show the achievement unlocked."""
        token = auth.check(request, "ingest")
        body = parse_json(await read_body(request, 64 << 10))
        if not isinstance(body, dict) or not isinstance(body.get("achievementId"), str) \
                or not isinstance(body.get("userId"), str) or not body["userId"]:
            raise HttpProblem(400, "invalid_request", "the body must be {\"achievementId\": …, \"userId\": …}")
        achievement = body["achievementId"]
        if achievement not in {a["id"] for a in achievements_catalogue(collector.registry.seeds_dir)}:
            raise HttpProblem(404, "not_found", f"no achievement {achievement!r}")
        rows = await progress_rows(token, body["userId"], [achievement])
        if not rows or not any(r["is_unlocked"] for r in rows):
            raise HttpProblem(409, "not_unlocked", "the achievement is not unlocked for this user (as of the last "
                                                   "published build)")
        record, again = await run_in_threadpool(record_redemption, collector, body["userId"], achievement)
        return envelope(mask({"achievementId": achievement, "userKey": record["user_key"],
                              "redeemedAt": record["redeemed_at"], "alreadyRedeemed": again}, token), {}, token)


def redemptions_file(data_dir: Path) -> Path:
    return Path(data_dir) / "collector" / "redemptions.jsonl"


def record_redemption(collector: Collector, user_id: str, achievement: str) -> tuple[dict[str, Any], bool]:
    """Append a redemption (fsync'ed, under an exclusive file lock so workers agree) unless one exists.

    Returns:
        (the redemption, whether it existed before).
    """
    keys = set(collector.key_candidates(user_id))
    path = redemptions_file(collector.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        for line in os.pread(fd, size, 0).splitlines():
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn line of a killed write: never acknowledged
            if row.get("achievement_id") == achievement and row.get("user_key") in keys:
                return row, True
        today = (datetime.now(timezone.utc).date() - date(1970, 1, 1)).days
        row = {"achievement_id": achievement, "user_key": collector.keyring.for_day(today).hash(user_id),
               "redeemed_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}
        if size and not os.pread(fd, 1, size - 1) == b"\n":
            os.write(fd, b"\n")
        os.write(fd, orjson.dumps(row) + b"\n")
        os.fsync(fd)
        return row, False
    finally:
        os.close(fd)
