"""The collector's ASGI application (FastAPI): ``telemetry serve`` runs it under uvicorn.

Routes: ``GET /health`` and ``GET /api/v1/health`` (the docs/requirements/learning.md#apis path; the same answer); native ingest
``POST /v1/events`` (every family; a JSON array, one object or JSON lines; gzip accepted);
docs/requirements/learning.md#apis ``POST /api/v1/telemetry/events``, ``/api/v1/telemetry/batch`` (≤ 1000 events, else
413) and ``/api/v1/telemetry/session/{session_id}/close``; the SDK paths of docs/sdks.md; the docs/requirements/politics.md#apis read
API under ``/api/politics/`` (:mod:`.read_api`); the OpenAPI document at ``/openapi.json`` (:mod:`.openapi`) and
its viewer at ``/docs``, both without a token (they describe the API and hold no data).

Every ingest route answers only after the request's lines are fsync'ed to the spool (:mod:`.spool`), and every
error is a JSON problem (``{"ok": false, "error": {"code", "message"}}``) — 400, 401, 403, 404, 405 (with
``Allow``), 409, 413, 415, 429, 503 — never a traceback (the statuses: docs/collector.md).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from types import UnionType
from typing import Any, Union, get_args, get_origin
from collections.abc import AsyncIterator, Callable

import orjson

from ..errors import SpoolWriteFailed, TelemetryError
from ..extras import missing

try:
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.responses import Response
except ModuleNotFoundError as error:  # installed without the collector extra
    raise missing("collector", error.name or "fastapi") from error

from ..registry.schema import Registry
from .adapters import amplitude, mixpanel, posthog, segment, snowplow
from .adapters.common import AdapterError, SdkEvent, WireMapper
from .config import CollectorConfig
from .core import Collector, EventAnswer, ReservedField
from .http import (FORM_MEDIA_TYPE, JSON_MEDIA_TYPES, Auth, HttpProblem, TokenBuckets, dump_json, json_response,
                   parse_json, read_body)
from .load import ClientCountry
from .openapi import describe
from .tokens import TokenStore, tokens_file

log = logging.getLogger("telemetry.collector")
SEED004_MAX_BATCH = 1000


def _summary(answers: list[EventAnswer]) -> dict[str, int]:
    counts = {"accepted": 0, "rejected": 0, "dropped": 0}
    for answer in answers:
        counts[answer.status] += 1
    return counts


def split_events(body: bytes, json_only: bool = False) -> list[bytes]:
    """Spool lines of a ``/v1/events`` body: a JSON array (one line per element), one JSON object, or JSON lines
    (each line kept byte for byte; blank lines skipped). A line that is not JSON is kept, to be quarantined.
    ``json_only`` (the body was sent as ``application/json``): the body must be one JSON array or object.

    Raises:
        HttpProblem: 400 for an empty body, a broken JSON array, a body that is one JSON value other than an
            array or object (or not JSON while ``json_only``), or JSON nested deeper than can be stored.
    """
    stripped = body.strip()
    if not stripped:
        raise HttpProblem(400, "empty_body", "no events in the body")
    if json_only:
        parsed = parse_json(stripped)
        if isinstance(parsed, list):
            return [dump_json(item) for item in parsed]
        if isinstance(parsed, dict):
            return [dump_json(parsed)]
        raise HttpProblem(400, "not_events", "the body must be a JSON array of events or one event object")
    if stripped[:1] in (b"[", b"{"):
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            parsed = None
            if stripped[:1] == b"[":
                raise HttpProblem(400, "invalid_json", "the body starts as a JSON array but is not valid JSON") from None
        if isinstance(parsed, list):
            return [dump_json(item) for item in parsed]
        if isinstance(parsed, dict):
            return [dump_json(parsed)]
    elif b"\n" not in stripped:
        try:
            orjson.loads(stripped)
        except orjson.JSONDecodeError:
            pass  # one line that is not JSON: kept, to be quarantined with its reason
        else:
            raise HttpProblem(400, "not_events", "the body must be a JSON array of events, one event object, or "
                                                 "JSON lines")
    lines = [line.rstrip(b"\r") for line in body.split(b"\n") if line.strip()]
    for line in lines:
        if line.count(b"[") + line.count(b"{") > 254:  # cheap pre-check; only such lines can nest that deep
            try:
                dump_json(orjson.loads(line))
            except orjson.JSONDecodeError:
                pass
    return lines


def _is_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return origin in (Union, UnionType) and any(_is_list(arg) for arg in get_args(annotation))


def _multi_valued(route: Any) -> frozenset[str]:
    """Query parameters of ``route`` that take several values (``?ids=a&ids=b``)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return frozenset()
    return frozenset(p.alias for p in dependant.query_params if _is_list(p.field_info.annotation))


async def single_valued_query(request: Request) -> None:
    """Refuse a repeated query parameter that takes one value (which copy would count is a guess): 400."""
    items = request.query_params.multi_items()
    names = [name for name, _ in items]
    if len(set(names)) == len(names):
        return
    allowed = _multi_valued(request.scope.get("route"))
    repeated = sorted({name for name in names if names.count(name) > 1} - allowed)
    if repeated:
        raise HttpProblem(400, "repeated_parameter", f"query parameter {repeated[0]!r} is given more than once; it "
                                                     "takes one value", parameters=repeated)


def create_app(config: CollectorConfig | None = None) -> FastAPI:
    """Build the application (uvicorn calls this in every worker with the configuration from the environment).

    Raises:
        ConfigError, TokensFileError, RegistryError: an unusable configuration, before serving anything.
    """
    config = config or CollectorConfig.from_environment()
    registry = Registry.load(config.schemas_dir)
    collector = Collector(config.data_dir, registry, config.keyring(), spool_max_bytes=config.spool_max_bytes,
                          spool_max_seconds=config.spool_max_seconds, land_every=config.land_every)
    auth = Auth(TokenStore.load(tokens_file(config.tokens_file)), TokenBuckets(config.token_rate, config.token_burst))
    mapper = WireMapper(registry, config.sdk_family)
    geoip = ClientCountry(config.trusted_proxies) if any(f.geoip_field for f in registry.families.values()) else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        collector.start()
        try:
            yield
        finally:
            report = await run_in_threadpool(collector.stop)
            if report.batches:
                log.info("landed on shutdown: %s", report.summary())

    app = FastAPI(title="Game-telemetry collector", version="1.0",
                  description="Collects game events durably into the telemetry lake and serves the read API. "
                              "Every route but `/health`, `/api/v1/health`, `/docs` and `/openapi.json` takes "
                              "`Authorization: Bearer <token>`.",
                  lifespan=lifespan, dependencies=[Depends(single_valued_query)])
    app.state.collector = collector
    app.state.auth = auth
    app.state.config = config

    @app.exception_handler(HttpProblem)
    async def _problem(_: Request, problem: HttpProblem) -> Response:
        return problem.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return HttpProblem(error.status_code, code, str(error.detail), headers=dict(error.headers or {})).response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> Response:
        problems = [{"pointer": "/" + "/".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg", "")}
                    for e in error.errors()]
        return HttpProblem(400, "invalid_request", "the request's parameters are invalid", errors=problems).response()

    @app.exception_handler(SpoolWriteFailed)
    async def _spool(_: Request, error: SpoolWriteFailed) -> Response:
        log.error("%s", error)
        return HttpProblem(503, "unavailable", "events could not be stored; retry later",
                           headers={"Retry-After": "1"}).response()

    @app.exception_handler(TelemetryError)
    async def _telemetry(_: Request, error: TelemetryError) -> Response:
        log.error("%s", error)
        status = 503 if error.retryable else 400
        return HttpProblem(status, type(error).__name__.lower(), str(error),
                           headers={"Retry-After": "1"} if error.retryable else None).response()

    @app.exception_handler(Exception)
    async def _bug(_: Request, error: Exception) -> Response:
        log.exception("internal error")
        return HttpProblem(500, "internal_error", "internal error (details are in the server log)").response()

    async def accept(request: Request, lines: list[bytes]) -> list[EventAnswer]:
        """Classify for the answer, refuse unknown schema versions, check per-player limits, then spool durably
        (the acknowledgement point). The client's address gives its country and is then forgotten."""
        country = None
        if geoip is not None:
            peer = request.client.host if request.client else None
            country = geoip.country(peer, request.headers.get("x-forwarded-for"))
        try:
            answers, lines = collector.admit(lines, country=country)
        except ReservedField as error:
            raise HttpProblem(400, "reserved_field", f"{error}; remove it from the events", indexes=error.indexes) \
                from None
        unknown = [a.index for a in answers if a.reason == "unknown_schema_version"]
        if unknown:
            raise HttpProblem(400, "analytics_version",
                              f"{len(unknown)} event(s) name a schema version the registry does not hold; nothing in "
                              "this request was stored (the per-event results say which and why)",
                              indexes=unknown, results=[a.to_json() for a in answers])
        limited = collector.player_limited(answers)
        if limited is not None:
            raise HttpProblem(429, "rate_limited",
                              f"{limited.event_type}: over the per-player rate limit; nothing in this request was "
                              "stored, retry later", headers={"Retry-After": str(limited.retry_after)},
                              event_type=limited.event_type, indexes=limited.indexes, retry_after=limited.retry_after)
        await run_in_threadpool(collector.append, lines)
        return answers

    # --- health -----------------------------------------------------------------------------------------------
    @app.get("/health", tags=["health"], summary="Liveness")
    async def health() -> Response:
        return json_response({"ok": True, "status": "ok"})

    @app.get("/api/v1/health", tags=["health"], summary="Liveness (docs/requirements/learning.md path)")
    async def api_v1_health() -> Response:
        return await health()

    # --- native ---------------------------------------------------------------------------------------------------
    @app.post("/v1/events", tags=["ingest"], summary="Events of any family, answered per event")
    async def events(request: Request) -> Response:
        """Body: a JSON array of events or one event object (`application/json`), or JSON lines
        (`application/x-ndjson`, `text/plain` or no `Content-Type`); `Content-Encoding: gzip` accepted.
        Answer: counts and, per event, `accepted` (with its `event_id`), `rejected` (reason code and JSON
        pointers; the event is kept in the quarantine) or `dropped` (opt-out, sampling)."""
        auth.check(request, "ingest")
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        lines = split_events(await read_body(request, config.max_body_bytes),
                             json_only=media == "application/json" or media.endswith("+json"))
        answers = await accept(request, lines)
        return json_response({**_summary(answers), "results": [a.to_json() for a in answers]})

    # --- docs/requirements/learning.md ---------------------------------------------------------------------------------------------
    @app.post("/api/v1/telemetry/events", tags=["learning (docs/requirements/learning.md)"], summary="Ingest single event")
    async def seed004_event(request: Request) -> Response:
        auth.check(request, "ingest")
        event = parse_json(await read_body(request, config.max_body_bytes))
        if not isinstance(event, dict):
            raise HttpProblem(400, "not_an_object", "the body must be one event object")
        if isinstance(event.get("events"), list):
            raise HttpProblem(400, "batch_on_single_endpoint", "a batch goes to /api/v1/telemetry/batch")
        (answer,) = await accept(request, [dump_json(event)])
        return json_response(answer.to_json() | {"index": 0})

    @app.post("/api/v1/telemetry/batch", tags=["learning (docs/requirements/learning.md)"], summary="Ingest batch of events (≤ 1000)")
    async def seed004_batch(request: Request) -> Response:
        auth.check(request, "ingest")
        batch = parse_json(await read_body(request, config.max_body_bytes))
        if not isinstance(batch, dict) or not isinstance(batch.get("events"), list):
            raise HttpProblem(400, "invalid_batch", "the body must be {batch_id, client_version, events: [...]}")
        if len(batch["events"]) > SEED004_MAX_BATCH:
            raise HttpProblem(413, "batch_too_large",
                              f"the batch holds {len(batch['events'])} events; at most {SEED004_MAX_BATCH} are "
                              "accepted per request: split it", max_events=SEED004_MAX_BATCH,
                              events=len(batch["events"]))
        if not isinstance(batch.get("batch_id"), str) or not batch["batch_id"]:
            raise HttpProblem(400, "invalid_batch", "batch_id (a non-empty string) is required")
        answers = await accept(request, [dump_json(batch)])
        return json_response({"batch_id": batch["batch_id"], **_summary(answers),
                              "results": [a.to_json() for a in answers]})

    @app.post("/api/v1/telemetry/session/{session_id}/close", tags=["learning (docs/requirements/learning.md)"],
              summary="Close session (features at the next warehouse build)")
    async def seed004_close(session_id: str, request: Request) -> Response:
        auth.check(request, "ingest")
        from .sessions import close_session

        closed = await run_in_threadpool(close_session, collector, session_id)
        if closed is None:
            raise HttpProblem(404, "session_not_found", "no landed events of this session")
        return json_response(closed)

    # --- SDKs -------------------------------------------------------------------------------------------------
    async def sdk(request: Request, events: list[SdkEvent]) -> list[EventAnswer]:
        received = datetime.now(timezone.utc)
        return await accept(request, [dump_json(mapper.to_wire(e, received)) for e in events])

    async def sdk_route(request: Request, decode: Callable[[bytes, Request], Any],
                        parse: Callable[[Any], tuple[list[SdkEvent], Any]],
                        accepted: frozenset[str] = JSON_MEDIA_TYPES) -> tuple[list[EventAnswer], int]:
        """Read, authenticate (header, else the SDK's own key in the body), then parse and accept. The caller is
        checked before the payload is judged, so a request without a valid token learns nothing but 401."""
        body, payload, problem = b"", None, None
        try:
            body = await read_body(request, config.max_body_bytes, accepted)
            payload = decode(body, request)
        except (AdapterError, HttpProblem) as error:
            problem = error
        key = None
        if problem is None:
            try:
                _, key = parse(payload)
            except AdapterError as error:
                problem, key = error, body_key(payload)
        auth.check(request, "ingest", key)
        if problem is not None:
            raise problem if isinstance(problem, HttpProblem) else HttpProblem(400, "invalid_payload", str(problem))
        events, _ = parse(payload)
        return await sdk(request, events), len(body)

    def json_body(body: bytes, _: Request) -> Any:
        return parse_json(body)

    def body_key(payload: Any) -> str | None:
        """The SDK key of a payload that does not parse (so an invalid payload with a valid key gets its 400)."""
        if isinstance(payload, dict):
            for name in ("api_key", "writeKey", "token"):
                if isinstance(payload.get(name), str):
                    return payload[name]
        return None

    async def segment_route(request: Request, kind: str | None) -> Response:
        await sdk_route(request, json_body, lambda payload: segment.parse(payload, kind))
        return json_response(segment.answer(0))

    @app.post("/v1/batch", tags=["sdk: Segment / RudderStack"])
    async def segment_batch(request: Request) -> Response:
        return await segment_route(request, None)

    def segment_single(kind: str) -> Callable[[Request], Any]:
        async def route(request: Request) -> Response:
            return await segment_route(request, kind)
        return route

    for kind in segment.MESSAGE_TYPES:
        app.add_api_route(f"/v1/{kind}", segment_single(kind), methods=["POST"],
                          tags=["sdk: Segment / RudderStack"], name=f"segment_{kind}")

    async def posthog_route(request: Request) -> Response:
        answers, _ = await sdk_route(request, json_body, posthog.parse)
        return json_response(posthog.answer(len(answers)))

    for path in ("/batch/", "/capture/", "/e/", "/i/v0/e/", "/track/"):
        app.add_api_route(path, posthog_route, methods=["POST"], tags=["sdk: PostHog"],
                          name=f"posthog_{path.strip('/').replace('/', '_')}")

    async def mixpanel_route(request: Request) -> Response:
        answers, _ = await sdk_route(
            request, lambda body, r: mixpanel.decode(body, r.headers.get("content-type", "")), mixpanel.parse,
            JSON_MEDIA_TYPES | {FORM_MEDIA_TYPE})
        return json_response(mixpanel.answer(len(answers)))

    for path in ("/track", "/import", "/engage"):
        app.add_api_route(path, mixpanel_route, methods=["POST"], tags=["sdk: Mixpanel"],
                          name=f"mixpanel_{path.strip('/')}")

    async def amplitude_route(request: Request) -> Response:
        answers, size = await sdk_route(request, json_body, amplitude.parse)
        return json_response(amplitude.answer(len(answers), size))

    for path in ("/2/httpapi", "/batch"):
        app.add_api_route(path, amplitude_route, methods=["POST"], tags=["sdk: Amplitude"],
                          name=f"amplitude_{path.strip('/').replace('/', '_')}")

    @app.post("/com.snowplowanalytics.snowplow/tp2", tags=["sdk: Snowplow"])
    async def snowplow_post(request: Request) -> Response:
        await sdk_route(request, json_body, lambda payload: (snowplow.parse(payload), None))
        return Response(b"ok", 200, media_type="text/plain")

    @app.get("/i", tags=["sdk: Snowplow"])
    async def snowplow_get(request: Request) -> Response:
        auth.check(request, "ingest")
        try:
            events = snowplow.parse(dict(request.query_params))
        except AdapterError as error:
            raise HttpProblem(400, "invalid_payload", str(error)) from None
        await sdk(request, events)
        return Response(snowplow.PIXEL, 200, media_type="image/gif")

    from .read_api import register as register_read_api

    register_read_api(app, collector, auth)
    app.openapi = lambda: describe(app)  # type: ignore[method-assign]
    return app
