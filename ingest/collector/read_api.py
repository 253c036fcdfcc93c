"""docs/requirements/politics.md#apis read API: raw politics events from the lake, stats and achievement progress from the published
marts, read-only through DuckDB; redeem recorded durably (docs/requirements/design.md#collector).

Envelope: ``{"ok": true, "data": …, "meta": …}``; errors ``{"ok": false, "error": {"code", "message"}}``.
docs/requirements/recsys.md#privacy tiers decide per column what a reader sees of each identifier (:data:`TIER_VIEWS`), from the kind the
registry gives the column (``x-telemetry.identifiers``, :attr:`EventSchema.identifier_columns`), and which
identifier filters it may use (:data:`TIER_FILTERS`): a filter takes an id in the form the tier's answers show
it. ``userId`` filters are hashed with every key of the keyring (the lake holds only ``player_key``); a token
bound to a company reads only that company's rows. The table of what each tier sees: ``docs/read-api.md``.
"""

from __future__ import annotations

import csv
import fcntl
import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import orjson
from fastapi import FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ..privacy.keys import IdentityHasher
from ..registry.schema import Registry
from .core import Collector
from .http import Auth, HttpProblem, parse_json, read_body
from .tokens import Token

SHOWN, HASHED, MASKED = "shown", "hashed", "masked"
TIER_VIEWS: dict[str, dict[str, str]] = {
    "player": {"engineer": SHOWN, "analyst": SHOWN, "viewer": MASKED},
    "session": {"engineer": SHOWN, "analyst": MASKED, "viewer": MASKED},
    "company": {"engineer": SHOWN, "analyst": HASHED, "viewer": MASKED},
    "lineage": {"engineer": SHOWN, "analyst": MASKED, "viewer": MASKED},
    "content": {"engineer": SHOWN, "analyst": SHOWN, "viewer": SHOWN},
    "data": {"engineer": SHOWN, "analyst": SHOWN, "viewer": SHOWN},
    "unknown": {"engineer": SHOWN, "analyst": MASKED, "viewer": MASKED},
}
"""docs/requirements/recsys.md#privacy column-level masking: identifier kind → tier → ``shown`` (as the lake stores it: player and session
ids are already keyed hashes there), ``hashed`` (a keyed HMAC-SHA256 of the stored value under the current key,
computed for the answer; a value the lake already holds hashed is shown as stored) or ``masked`` (null).
``lineage`` is the batch and hash-key id of a row, ``data`` any column that is no identifier, ``unknown`` a column
the registry does not describe (served to engineers only)."""
TIER_FILTERS: dict[str, frozenset[str]] = {
    "engineer": frozenset({"userId", "userKey", "companyId"}),
    "analyst": frozenset({"userKey", "companyId"}),
    "viewer": frozenset(),
}
"""Identifier filters each tier may use (others answer 403): ``userId`` is a raw player id, ``userKey`` a player
key as answers show it, ``companyId`` a company id as the tier's answers show it (raw for engineers, hashed for
analysts). A filter by a form a tier does not see would map it to what the tier sees, so it is refused."""
ENVELOPE_KINDS = {"player_key": "player", "session_id": "session", "hash_key_id": "lineage", "batch_id": "lineage"}
STRICTNESS = {SHOWN: 0, HASHED: 1, MASKED: 2}

ENVELOPE = {"event_id": "eventId", "event_type": "type", "schema_version": "metaVersion", "occurred_at": "createdAt",
            "received_at": "receivedAt", "player_key": "userKey", "company_id": "companyId",
            "session_id": "sessionKey", "hash_key_id": "hashKeyId", "batch_id": "batchId", "event_date": "eventDate",
            "sample_rate": "sampleRate"}
NOT_SERVED = {"occurred_at_source", "schema_version_source"}
MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000_000
"""Highest page number (the row offset stays within a 64-bit integer)."""
USER_ID = Query(None, description="A raw player id (engineer tier only; hashed under every key before the query).")
USER_KEY = Query(None, description="A player key as answers show it (engineer and analyst tiers).")
COMPANY_ID = Query(None, description="A company id as the tier's answers show it: raw (engineer), hashed (analyst); "
                                     "viewers may not filter by it.")


def envelope(data: Any, meta: dict[str, Any], token: Token, views: Views) -> Response:
    """The success answer; ``meta`` gains the tier and the fields it saw ``masked`` (null) or ``hashed``."""
    meta = {**meta, "tier": token.tier, "masked": sorted(views.masked), "hashed": sorted(views.hashed)}
    return Response(orjson.dumps({"ok": True, "data": data, "meta": meta},
                                 option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS),
                    200, media_type="application/json")


class Views:
    """What one answer shows of each identifier to one tier (:data:`TIER_VIEWS`), and which fields it masked or
    hashed (for ``meta``). ``hasher`` is the key in effect today: the analysts' company pseudonyms."""

    def __init__(self, tier: str, hasher: IdentityHasher):
        self.tier, self.hasher = tier, hasher
        self.masked: set[str] = set()
        self.hashed: set[str] = set()
        self._views: dict[frozenset[str], str] = {}

    def view(self, kinds: frozenset[str]) -> str:
        """The strictest view of ``kinds`` for this tier (a column some version calls an identifier is one)."""
        found = self._views.get(kinds)
        if found is None:
            found = self._views[kinds] = max((TIER_VIEWS[k][self.tier] for k in kinds), key=STRICTNESS.__getitem__,
                                             default=SHOWN)
        return found

    def form(self, value: Any, kinds: frozenset[str], stored_hashed: bool = False) -> tuple[str, Any]:
        """``(view, value as this tier sees it)``: null, a keyed hash (each element of a list), or as stored."""
        view = self.view(kinds)
        if view == MASKED:
            return view, None
        if view == HASHED and not stored_hashed:
            if isinstance(value, list):
                return view, [None if v is None else self.hasher.hash(v) for v in value]
            return view, None if value is None else self.hasher.hash(value)
        return SHOWN, value

    def apply(self, name: str, value: Any, kinds: frozenset[str], stored_hashed: bool = False) -> Any:
        """:meth:`form` of output field ``name``'s value, noting the field in :attr:`masked` / :attr:`hashed`."""
        view, shown = self.form(value, kinds, stored_hashed)
        if view == MASKED:
            self.masked.add(name)
        elif view == HASHED:
            self.hashed.add(name)
        return shown

    def shown_form(self, raw: str) -> str:
        """A raw company id as this tier's answers show it (for a bound token's own company)."""
        return self.hasher.hash(raw) if self.view(frozenset({"company"})) == HASHED else raw


@dataclass(frozen=True)
class ColumnKinds:
    """Identifier kinds of one lake event type's columns at one schema version (empty kinds: not an id)."""

    kinds: dict[str, frozenset[str]]
    stored_hashed: frozenset[str]

    def of(self, column: str) -> frozenset[str]:
        return self.kinds.get(column, frozenset({"unknown"}))


def column_kinds(registry: Registry) -> dict[tuple[str, str | None], ColumnKinds]:
    """``(lake type, version)`` → :class:`ColumnKinds`, and ``(lake type, None)`` → the union over versions (for
    a row whose version the lake does not say). Built from the registry annotations only."""
    out: dict[tuple[str, str | None], ColumnKinds] = {}
    union: dict[str, dict[str, set[str]]] = {}
    for schema in registry.schemas():
        kinds: dict[str, set[str]] = {name: {ENVELOPE_KINDS.get(name, "data")}
                                      for name in schema.arrow_schema.names}
        kinds |= {"event_type": {"data"}, "event_date": {"data"}}
        for column, kind in schema.identifier_columns.items():
            kinds[column] = {kind}
        hashed = {c.name for c in schema.payload_columns if c.action in ("hash", "hash_each")}
        hashed |= {"player_key", "session_id"}
        out[(schema.qualified_type, schema.version)] = ColumnKinds(
            {k: frozenset(v) for k, v in kinds.items()}, frozenset(hashed))
        seen = union.setdefault(schema.qualified_type, {})
        for name, value in kinds.items():
            seen.setdefault(name, set()).update(value)
    for lake_type, kinds in union.items():
        versions = [v for (t, version), v in out.items() if t == lake_type and version is not None]
        always_hashed = frozenset.intersection(*(v.stored_hashed for v in versions))  # stored hashed in every version
        out[(lake_type, None)] = ColumnKinds({k: frozenset(v) for k, v in kinds.items()}, always_hashed)
    return out


@lru_cache(maxsize=4096)
def field_name(column: str) -> str:
    """The answer's name of a lake column (the seed's envelope names, else camelCase)."""
    return ENVELOPE.get(column) or camel(column)


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


def mart_type_names(value: str) -> list[str]:
    """The names a type filter matches in the marts: as the marts write it (``bill_vote``) and as the lake does
    (``politics_bill_vote``)."""
    lake_type = event_type_of(value)
    return [lake_type.removeprefix("politics_"), lake_type]


def seed_type(lake_type: str) -> str:
    return lake_type.removeprefix("politics_").upper()


def _keep_members(where: list[str], params: list[Any], column: str, values: list[str] | None) -> None:
    """Add ``column in values`` (one list parameter) to a query's conditions; no condition when ``values`` is
    None (no filter asked for)."""
    if values is not None:
        where.append(f"{column} in (select unnest(?::varchar[]))")
        params.append(values)


class Reader:
    """Read-only queries over one data directory's lake and published marts."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.data_dir = collector.data_dir
        self.lock = threading.Lock()
        self.columns = column_kinds(collector.registry)

    def views(self, token: Token) -> Views:
        today = (datetime.now(timezone.utc).date() - date(1970, 1, 1)).days
        return Views(token.tier, self.collector.keyring.for_day(today))

    def kinds(self, lake_type: str | None, version: str | None = None) -> ColumnKinds:
        """Identifier kinds of a type's columns; ``lake_type`` as the lake names it (``politics_bill_vote``) or as
        the marts do (``bill_vote``)."""
        for name in (lake_type, None if lake_type is None else "politics_" + lake_type):
            found = self.columns.get((name, version)) or self.columns.get((name, None))
            if found is not None:
                return found
        return ColumnKinds({}, frozenset())

    def shown_as(self, pairs: list[tuple[str, str]], column: str, shown: str, views: Views) -> list[str]:
        """The stored values among ``(value, lake type)`` pairs that ``views`` shows as ``shown``."""
        out = set()
        for stored, lake_type in pairs:
            if stored is not None and views.form(stored, frozenset({"company"}),
                                                 column in self.kinds(lake_type).stored_hashed)[1] == shown:
                out.add(stored)
        return sorted(out)

    def lake_companies_shown_as(self, shown: str, views: Views, lake_type: str | None) -> list[str]:
        """Stored ``company_id`` values of the lake that ``views`` shows as ``shown`` (an analyst's filter)."""
        files = self.event_files(lake_type)
        if not files:
            return []
        con = self.connect()
        try:
            pairs = con.execute("select distinct company_id, event_type from read_parquet(?, hive_partitioning=true, "
                                "union_by_name=true) where company_id is not null", [files]).fetchall()
        except duckdb.BinderException:  # no file of these types has a company_id column
            return []
        finally:
            con.close()
        return self.shown_as(pairs, "company_id", shown, views)

    def mart_companies_shown_as(self, shown: str, views: Views) -> list[str]:
        """Stored company ``scope_id`` values of ``agg_politics_daily`` that ``views`` shows as ``shown``."""
        path = self.mart("agg_politics_daily")
        if path is None:
            return []
        con = self.connect()
        try:
            pairs = con.execute("select distinct scope_id, event_type from read_parquet(?) where scope = 'company'",
                                [str(path)]).fetchall()
        finally:
            con.close()
        return self.shown_as(pairs, "company_id", shown, views)

    def present_event(self, row: dict[str, Any], views: Views) -> dict[str, Any]:
        """A lake row as the read API answers it: seed field names, each identifier as ``views`` shows it."""
        kinds = self.kinds(row.get("event_type"), row.get("schema_version"))
        out: dict[str, Any] = {}
        for key, value in row.items():
            if key in NOT_SERVED or (value is None and key not in ENVELOPE):
                continue
            if key == "event_type":
                value = seed_type(value)
            name = field_name(key)
            out[name] = views.apply(name, value, kinds.of(key), key in kinds.stored_hashed)
        return out

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
        _keep_members(where, params, "player_key", users)
        _keep_members(where, params, "company_id", companies)
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
        return table.to_pylist(), int(total)

    def period_users(self, scope: str, types: list[str] | None, scope_ids: list[str] | None, first_day: date | None,
                     after_last_day: date | None) -> dict[tuple[str, str], int] | None:
        """Distinct users per (mart event type, scope id) over ``[first_day, after_last_day)``, counted from the
        player-day mart ``fct_politics_player_days`` (a user active on several days counts once); None when that
        mart is not published. ``types``: the type's names to keep (:func:`mart_type_names`); ``scope_ids``:
        company ids (scope ``company``) or player keys (``user``) to keep."""
        path = self.mart("fct_politics_player_days")
        if path is None:
            return None
        scope_id = {"all": "'all'", "company": "company_id", "user": "player_key"}[scope]
        where, params = [f"{scope_id} is not null"], []
        _keep_members(where, params, "event_type", types)
        _keep_members(where, params, scope_id, scope_ids)
        if first_day is not None:
            where.append("event_date >= ?")
            params.append(first_day)
        if after_last_day is not None:
            where.append("event_date < ?")
            params.append(after_last_day)
        con = self.connect()
        try:
            rows = con.execute(f"select event_type, {scope_id}, count(distinct player_key) from read_parquet(?) "
                               f"where {' and '.join(where)} group by 1, 2", [str(path), *params]).fetchall()
        finally:
            con.close()
        return {(event_type, value): int(users) for event_type, value, users in rows}

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


def sample_variance(n: int, total: float, total_squares: float) -> float | None:
    """Sample variance (n − 1) of ``n`` values from their sum and sum of squares, as the marts compute it
    (``var_samp``; macro ``variance_from_sums``): None below 2 values, a tiny negative from rounding clamped to 0."""
    if n < 2:
        return None
    return max((total_squares - total * total / n) / (n - 1), 0.0)


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
    """Add the five docs/requirements/politics.md#apis routes to ``app``."""
    reader = Reader(collector)
    tag = ["read (docs/requirements/politics.md)"]

    def allow_filters(token: Token, **given: str | None) -> None:
        """403 for an identifier filter the token's tier may not use (:data:`TIER_FILTERS`)."""
        for name, value in given.items():
            if value is not None and name not in TIER_FILTERS[token.tier]:
                hint = ("its answers carry no identifiers" if not TIER_FILTERS[token.tier]
                        else "filter by userKey, the player key its answers show" if name == "userId" else "")
                raise HttpProblem(403, "forbidden", f"the {token.tier} tier cannot filter by {name}"
                                  + (f": {hint}" if hint else ""))

    def player_filter(token: Token, user_id: str | None, user_key: str | None) -> list[str] | None:
        """Player keys to match (``userId`` hashed under every key, ``userKey`` as given), or None for all."""
        allow_filters(token, userId=user_id, userKey=user_key)
        keys = None if user_id is None else set(reader.users(user_id) or [])
        if user_key is not None:
            keys = {user_key} if keys is None else keys & {user_key}
        return None if keys is None else sorted(keys)

    async def company_filter(token: Token, views: Views, company_id: str | None, stored_as) -> list[str] | None:
        """Stored company values to match, or None for every company. ``company_id`` is in the form the tier's
        answers show it; ``stored_as(shown)`` finds the stored values shown so (a scan, for hashed forms)."""
        allow_filters(token, companyId=company_id)
        if token.company is not None:
            if company_id is not None and company_id != views.shown_form(token.company):
                raise HttpProblem(403, "forbidden", "this token reads only its own company")
            return reader.companies(token.company)
        if company_id is None:
            return None
        if views.view(frozenset({"company"})) == SHOWN:
            return reader.companies(company_id)
        return await run_in_threadpool(stored_as, company_id)

    @app.get("/api/politics/telemetry/events", tags=tag, summary="Raw event stream (filtered)")
    async def events(request: Request, type: str | None = None, companyId: str | None = COMPANY_ID,
                     userId: str | None = USER_ID, userKey: str | None = USER_KEY,
                     from_: str | None = Query(None, alias="from"), to: str | None = None,
                     page: int = Query(1, ge=1, le=MAX_PAGE),
                     pageSize: int = Query(50, ge=1, le=MAX_PAGE_SIZE)) -> Response:
        token = auth.check(request, "read")
        views = reader.views(token)
        lake_type = event_type_of(type)
        users = player_filter(token, userId, userKey)
        companies = await company_filter(token, views, companyId,
                                         lambda shown: reader.lake_companies_shown_as(shown, views, lake_type))
        start, end = parse_moment(from_, "from"), parse_moment(to, "to", end=True)
        rows, total = await run_in_threadpool(reader.events, lake_type, users, companies, start, end, page, pageSize)
        return envelope([reader.present_event(r, views) for r in rows],
                        {"page": page, "pageSize": pageSize, "total": total,
                         "hasMore": page * pageSize < total}, token, views)

    @app.get("/api/politics/telemetry/stats", tags=tag, summary="Aggregated metrics snapshot")
    async def stats(request: Request, type: str | None = None, scope: str = Query("company", pattern="^(company|user|all)$"),
                    companyId: str | None = COMPANY_ID, userId: str | None = USER_ID, userKey: str | None = USER_KEY,
                    from_: str | None = Query(None, alias="from"), to: str | None = None) -> Response:
        token = auth.check(request, "read")
        views = reader.views(token)
        if token.company is not None and scope != "company":
            raise HttpProblem(403, "forbidden", "a token bound to a company reads scope=company only")
        users = player_filter(token, userId, userKey)
        company = await company_filter(token, views, companyId,
                                       lambda shown: reader.mart_companies_shown_as(shown, views))
        start, end = parse_moment(from_, "from"), parse_moment(to, "to", end=True)
        where, params = ["scope = ?"], [scope]
        if type is not None:  # the marts name a type without the family prefix (lobby_attempt)
            where.append("event_type in (?, ?)")
            params += mart_type_names(type)
        _keep_members(where, params, "scope_id", {"company": company, "user": users}.get(scope))
        first_day = start.date() if start is not None else None
        after_last_day = (None if end is None else end.date() if end.time() == time()
                          else end.date() + timedelta(days=1))
        if first_day is not None:
            where.append("event_date >= ?")
            params.append(first_day)
        if after_last_day is not None:
            where.append("event_date < ?")
            params.append(after_last_day)
        rows = await run_in_threadpool(reader.query_mart, "agg_politics_daily", where, params,
                                       "event_date, event_type, scope_id")
        users_of_period = await run_in_threadpool(
            reader.period_users, scope, mart_type_names(type) if type is not None else None,
            company if scope == "company" else users if scope == "user" else None, first_day, after_last_day)
        scope_kinds = frozenset({{"company": "company", "user": "player"}.get(scope, "data")})
        scope_column = {"company": "company_id", "user": "player_key"}.get(scope)

        def scope_id(lake_type: str, value: Any) -> Any:
            return views.apply("scopeId", value, scope_kinds, scope_column in reader.kinds(lake_type).stored_hashed)

        totals: dict[tuple[str, str | None], dict[str, Any]] = {}
        daily = []
        for row in rows or []:
            key = (row["event_type"], row["scope_id"])
            shown_id = scope_id(row["event_type"], row["scope_id"])
            total = totals.setdefault(key, {"type": seed_type(row["event_type"]), "scope": scope,
                                            "scopeId": shown_id, "count": 0, "outcomeCount": 0,
                                            "successCount": 0, "valueCount": 0, "valueSum": 0.0,
                                            "valueSumSquares": 0.0, "min": None, "max": None})
            total["count"] += row["events"] or 0
            total["outcomeCount"] += row["outcome_count"] or 0
            total["successCount"] += row["success_count"] or 0
            total["valueCount"] += row["value_count"] or 0
            total["valueSum"] += row["value_sum"] or 0.0
            total["valueSumSquares"] += row["value_sum_squares"] or 0.0
            for name, pick in (("min", min), ("max", max)):
                value = row[f"value_{name}"]
                if value is not None:
                    total[name] = value if total[name] is None else pick(total[name], value)
            daily.append({"date": row["event_date"], "type": seed_type(row["event_type"]), "scopeId": shown_id,
                          "count": row["events"], "distinctUsers": row["distinct_players"],
                          "successRate": row["success_rate"], "avg": row["value_avg"],
                          "variance": row.get("value_variance"), "stdDev": row["value_stddev"],
                          "min": row["value_min"], "max": row["value_max"]})
        out = []
        for key, total in totals.items():
            n, s, q = total.pop("valueCount"), total.pop("valueSum"), total.pop("valueSumSquares")
            outcomes, successes = total.pop("outcomeCount"), total.pop("successCount")
            total["distinctUsers"] = None if users_of_period is None else users_of_period.get(key, 0)
            total["successRate"] = successes / outcomes if outcomes else None
            total["avg"] = s / n if n else None
            total["variance"] = sample_variance(n, s, q)
            total["stdDev"] = None if total["variance"] is None else total["variance"] ** 0.5
            out.append(total)
        return envelope({"totals": out, "daily": daily},
                        {"period": {"from": from_, "to": to}, "scope": scope, "published": rows is not None,
                         "source": "agg_politics_daily"}, token, views)

    async def progress_rows(token: Token, users: list[str] | None, ids: list[str] | None) -> list[dict] | None:
        where, params = [], []
        _keep_members(where, params, "player_key", users)
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

    player = frozenset({"player"})

    def progress_json(row: dict, views: Views) -> dict:
        return {"achievementId": row["achievement_id"],
                "userKey": views.apply("userKey", row["player_key"], player, True),
                "progress": row["progress"], "target": row["target"], "progressRatio": row["progress_ratio"],
                "unlocked": row["is_unlocked"], "unlockedDate": row["unlocked_date"]}

    @app.get("/api/politics/achievements", tags=tag, summary="Achievement definitions + progress")
    async def achievements(request: Request, category: str | None = None, ids: list[str] | None = Query(None),
                           userId: str | None = USER_ID, userKey: str | None = USER_KEY) -> Response:
        token = auth.check(request, "read")
        views = reader.views(token)
        users = player_filter(token, userId, userKey)
        wanted = split_ids(ids)
        catalogue = [a for a in achievements_catalogue(collector.registry.seeds_dir) if (category is None or a["category"] == category)
                     and (wanted is None or a["id"] in wanted)]
        rows = await progress_rows(token, users, [a["id"] for a in catalogue]) if users is not None else None
        by_id: dict[str, list[dict]] = {}
        for row in rows or []:
            by_id.setdefault(row["achievement_id"], []).append(progress_json(row, views))
        data = [{**a, **({"progress": by_id.get(a["id"], [])} if users is not None else {})} for a in catalogue]
        return envelope(data, {"count": len(data), "published": rows is not None if users is not None else None},
                        token, views)

    @app.get("/api/politics/achievements/progress", tags=tag, summary="Focused progress")
    async def progress(request: Request, achievementId: list[str] | None = Query(None),
                       userId: str | None = USER_ID, userKey: str | None = USER_KEY) -> Response:
        token = auth.check(request, "read")
        views = reader.views(token)
        rows = await progress_rows(token, player_filter(token, userId, userKey), split_ids(achievementId))
        return envelope([progress_json(r, views) for r in rows or []],
                        {"count": len(rows or []), "published": rows is not None}, token, views)

    @app.post("/api/politics/achievements/redeem", tags=tag, summary="Redeem optional manual rewards")
    async def redeem(request: Request) -> Response:
        """Body ``{"achievementId", "userId"}``. Idempotent per (user, achievement): a second call answers the
        first redemption (``alreadyRedeemed: true``). Needs the user's progress to show the achievement unlocked.
        The game's call on a player's behalf (scope ``ingest``), so ``userId`` is raw whatever the tier; the
        answer's ``userKey`` follows the tier."""
        token = auth.check(request, "ingest")
        views = reader.views(token)
        body = parse_json(await read_body(request, 64 << 10))
        if not isinstance(body, dict) or not isinstance(body.get("achievementId"), str) \
                or not isinstance(body.get("userId"), str) or not body["userId"]:
            raise HttpProblem(400, "invalid_request", "the body must be {\"achievementId\": …, \"userId\": …}")
        achievement = body["achievementId"]
        if achievement not in {a["id"] for a in achievements_catalogue(collector.registry.seeds_dir)}:
            raise HttpProblem(404, "not_found", f"no achievement {achievement!r}")
        rows = await progress_rows(token, reader.users(body["userId"]), [achievement])
        if not rows or not any(r["is_unlocked"] for r in rows):
            raise HttpProblem(409, "not_unlocked", "the achievement is not unlocked for this user (as of the last "
                                                   "published build)")
        record, again = await run_in_threadpool(record_redemption, collector, body["userId"], achievement)
        return envelope({"achievementId": achievement,
                         "userKey": views.apply("userKey", record["user_key"], player, True),
                         "redeemedAt": record["redeemed_at"], "alreadyRedeemed": again}, {}, token, views)


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
