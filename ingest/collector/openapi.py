"""The collector's OpenAPI document (``GET /openapi.json``, shown at ``/docs``): what FastAPI derives from the
routes, completed with what the routes read by hand — request bodies and their content types, the error statuses
the server really answers (a JSON problem each; 400 for invalid parameters, never FastAPI's 422), their headers
(``WWW-Authenticate``, ``Retry-After``) and the credentials each route takes.

Statuses and their meaning: docs/collector.md. The document is built once per application and cached.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .adapters.segment import MESSAGE_TYPES

STATUS_TEXT = {
    400: "The request is malformed (the reason is in `error.message`; the body is not JSON or not the route's "
         "shape, JSON nested too deep, an invalid parameter), or an event names a schema version the registry does "
         "not hold (`error.code` `analytics_version`, with `error.indexes` and the per-event `error.results`: "
         "`unknown_schema_version` and its JSON pointer). Nothing was stored.",
    401: "No token, or an unknown one. Nothing was stored.",
    403: "The token lacks the route's scope, or reads another company. Nothing was stored.",
    404: "The session or achievement named does not exist.",
    409: "The achievement is not unlocked for this user.",
    413: "The body is over the size limit (also after gzip decoding), or a batch holds over 1,000 events. Nothing "
         "was stored.",
    415: "The `Content-Type` is not one the route reads. Nothing was stored.",
    429: "Over the token's request rate, or a player's per-type event limit; retry after `Retry-After` seconds. "
         "Nothing was stored.",
    503: "The events could not be stored (the spool's disk is full or failing) or the warehouse is busy; retry "
         "after `Retry-After` seconds. Nothing was stored.",
}
HEADERS = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}},
    503: {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 1}}},
}
TOKEN = [{"bearer": []}]
SDK_TOKEN = [{"bearer": []}, {"basic": []}]
INGEST_ERRORS = (400, 401, 403, 413, 415, 429, 503)
READ_ERRORS = (400, 401, 403, 429, 503)

ANY_OBJECT = {"type": "object"}
BODY_KEY = {"description": "The token, read when no `Authorization` header is sent (then it must be a string)."}
EVENT_ANSWER = {
    "type": "object", "required": ["index", "status"],
    "properties": {"index": {"type": "integer", "minimum": 0},
                   "status": {"enum": ["accepted", "rejected", "dropped"]},
                   "event_id": {"type": "string"}, "event_type": {"type": "string"}, "reason": {"type": "string"},
                   "errors": {"type": "array", "items": {
                       "type": "object", "required": ["pointer", "keyword", "message"],
                       "properties": {"pointer": {"type": "string"}, "keyword": {"type": "string"},
                                      "message": {"type": "string"}}}}},
}
PROBLEM = {
    "type": "object", "required": ["ok", "error"],
    "properties": {"ok": {"const": False},
                   "error": {"type": "object", "required": ["code", "message"],
                             "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                            "indexes": {"type": "array", "items": {"type": "integer", "minimum": 0},
                                                        "description": "the events the problem is about"},
                                            "results": {"type": "array", "items": EVENT_ANSWER,
                                                        "description": "`analytics_version`: what each event of "
                                                                       "the request would have been"}}}},
}
COUNTS = {"accepted": {"type": "integer", "minimum": 0}, "rejected": {"type": "integer", "minimum": 0},
          "dropped": {"type": "integer", "minimum": 0}}
EVENTS_ANSWER = {"type": "object", "required": ["accepted", "rejected", "dropped", "results"],
                 "properties": {**COUNTS, "results": {"type": "array", "items": EVENT_ANSWER}}}

EVENTS_BODY = {
    "required": True,
    "description": "Events of any family: a JSON array (each element one event) or one event object as "
                   "`application/json`, or JSON lines as `application/x-ndjson`. "
                   "`Content-Encoding: gzip` is accepted (every member of the stream). Each element is answered "
                   "on its own: an element that is not a valid event is answered `rejected` and quarantined.",
    "content": {"application/json": {"schema": {"anyOf": [{"type": "array", "items": {}}, ANY_OBJECT]}},
                "application/x-ndjson": {"schema": {"type": "string", "pattern": "\\S",
                                                    "description": "JSON lines: one event object a line"}}},
}
SEED004_EVENT = {"type": "object", "properties": {"events": {"not": {"type": "array"}}},
                 "description": "One learning event (docs/requirements/learning.md); a batch goes to /api/v1/telemetry/batch."}
SEED004_BATCH = {"type": "object", "required": ["batch_id", "events"],
                 "properties": {"batch_id": {"type": "string", "minLength": 1},
                                "client_version": {"description": "the client's version (kept, not checked)"},
                                "events": {"type": "array", "maxItems": 1000, "items": {}}}}
SEGMENT_MESSAGE = {"anyOf": [
    {"type": "object", "required": ["type", "event"],
     "properties": {"type": {"const": "track"}, "event": {"type": "string", "minLength": 1}}},
    {"type": "object", "required": ["type"], "properties": {"type": {"enum": [t for t in MESSAGE_TYPES if t != "track"]}}},
]}
SEGMENT_BATCH = {"type": "object", "required": ["batch"],
                 "properties": {"batch": {"type": "array", "items": SEGMENT_MESSAGE}, "writeKey": BODY_KEY}}
POSTHOG_EVENT = {"type": "object", "required": ["event"], "properties": {"event": {"type": "string", "minLength": 1}}}
POSTHOG_BODY = {"anyOf": [
    {"type": "object", "required": ["batch"],
     "properties": {"api_key": BODY_KEY, "batch": {"type": "array", "items": POSTHOG_EVENT}}},
    POSTHOG_EVENT,
    {"type": "array", "items": POSTHOG_EVENT},
]}
MIXPANEL_EVENT = {"type": "object", "required": ["event"],
                  "properties": {"event": {"type": "string"},
                                 "properties": {"description": "the event's properties (read when an object)"}}}
AMPLITUDE_BODY = {"type": "object", "required": ["events"],
                  "properties": {"api_key": BODY_KEY, "events": {"type": "array", "items": {
                      "type": "object", "required": ["event_type"], "properties": {"event_type": {"type": "string"}}}}}}
SNOWPLOW_BODY = {"type": "object", "required": ["data"], "properties": {"schema": {
    "description": "the payload_data schema URI (not read)"}, "data": {
    "type": "array", "items": {"anyOf": [
        {"type": "object", "required": ["e", "se_ac"],
         "properties": {"e": {"const": "se"}, "se_ac": {"type": "string", "minLength": 1}}},
        {"type": "object", "required": ["e"],
         "properties": {"e": {"type": "string", "minLength": 1, "not": {"enum": ["se", "ue"]}}}},
    ]}}},
    "description": "Snowplow `payload_data`: tracker events; a self-describing event (`e: ue`) carries its JSON in "
                   "`ue_pr` (or base64 in `ue_px`)."}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any], *, form: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": {
            "type": "object", "required": ["data"],
            "properties": {"data": {"type": "string", "description": "the events as JSON, or base64 of it"}}}}
    return {"required": True, "content": content}


def _routes() -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) → body, success answer, errors and credentials of every route."""
    ingest = {"errors": INGEST_ERRORS, "security": TOKEN}
    sdk = {"errors": INGEST_ERRORS, "security": SDK_TOKEN}
    out: dict[tuple[str, str], dict[str, Any]] = {
        **{("get", path): {"ok": _json({"type": "object", "required": ["ok", "status"],
                                        "properties": {"ok": {"const": True}, "status": {"const": "ok"}}}),
                           "errors": (), "security": []} for path in ("/health", "/api/v1/health")},
        ("post", "/v1/events"): {**ingest, "body": EVENTS_BODY, "ok": _json(EVENTS_ANSWER)},
        ("post", "/api/v1/telemetry/events"): {**ingest, "body": _body(SEED004_EVENT), "ok": _json(EVENT_ANSWER)},
        ("post", "/api/v1/telemetry/batch"): {
            **ingest, "body": _body(SEED004_BATCH),
            "ok": _json({**EVENTS_ANSWER, "required": ["batch_id", *EVENTS_ANSWER["required"]],
                         "properties": {"batch_id": {"type": "string"}, **EVENTS_ANSWER["properties"]}})},
        ("post", "/api/v1/telemetry/session/{session_id}/close"): {
            "errors": (400, 401, 403, 404, 429, 503), "security": TOKEN, "ok": _json(ANY_OBJECT)},
        ("post", "/v1/batch"): {**sdk, "body": _body(SEGMENT_BATCH), "ok": _json({"type": "object"})},
        ("post", "/com.snowplowanalytics.snowplow/tp2"): {
            **sdk, "body": _body(SNOWPLOW_BODY), "ok": {"content": {"text/plain": {"schema": {"type": "string"}}}}},
        ("get", "/i"): {"errors": (400, 401, 403, 429, 503), "security": TOKEN, "parameters": PIXEL_PARAMETERS,
                        "ok": {"content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}}}},
        ("post", "/api/politics/achievements/redeem"): {
            "errors": (400, 401, 403, 404, 409, 413, 415, 429, 503), "security": TOKEN, "ok": _json(ANY_OBJECT),
            "body": _body({"type": "object", "required": ["achievementId", "userId"],
                           "properties": {"achievementId": {"type": "string"},
                                          "userId": {"type": "string", "minLength": 1}}})},
    }
    for kind in MESSAGE_TYPES:  # the path's type is the default; a message may name another
        track = {"type": "object", "required": ["event"] if kind == "track" else ["type", "event"],
                 "properties": {"type": {"const": "track"}, "event": {"type": "string", "minLength": 1},
                                "writeKey": BODY_KEY}}
        other = {"type": "object", "required": [] if kind != "track" else ["type"],
                 "properties": {"type": {"enum": [t for t in MESSAGE_TYPES if t != "track"]}, "writeKey": BODY_KEY}}
        out[("post", f"/v1/{kind}")] = {**sdk, "body": _body({"anyOf": [track, other]}),
                                        "ok": _json({"type": "object"})}
    for path in ("/batch/", "/capture/", "/e/", "/i/v0/e/", "/track/"):
        out[("post", path)] = {**sdk, "body": _body(POSTHOG_BODY), "ok": _json({"type": "object"})}
    for path in ("/track", "/import", "/engage"):
        out[("post", path)] = {**sdk, "ok": _json({"type": "object"}),
                               "body": _body({"anyOf": [MIXPANEL_EVENT, {"type": "array", "items": MIXPANEL_EVENT}]},
                                             form=True)}
    for path in ("/2/httpapi", "/batch"):
        out[("post", path)] = {**sdk, "body": _body(AMPLITUDE_BODY), "ok": _json({"type": "object"})}
    return out


PIXEL_PARAMETERS = [
    {"name": "e", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1},
     "description": "Snowplow event kind: `pv`, `pp`, `tr`, `ti`, …; `se` needs `se_ac`, `ue` needs `ue_px`"},
    *({"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": text}
      for name, text in (("se_ac", "structured event action (the event name)"), ("se_ca", "its category"),
                         ("ue_px", "self-describing event, base64 JSON"), ("uid", "user id"),
                         ("duid", "domain user id (when there is no user id)"), ("eid", "event id"),
                         ("dtm", "device time, epoch milliseconds"))),
]
READ_PARAMETERS = {
    "type": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"},
    "from": {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]},
    "to": {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]},
}


def describe(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app`` (cached on it)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    routes = _routes()
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            spec = routes.get((method, path))
            if spec is None:  # the read API's GET routes
                spec = {"errors": READ_ERRORS, "security": TOKEN, "ok": _json(
                    {"type": "object", "required": ["ok", "data"], "properties": {"ok": {"const": True}}})}
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["200"] = {"description": responses.get("200", {}).get("description", "Success"), **spec["ok"]}
            for status in spec["errors"]:
                answer: dict[str, Any] = {"description": STATUS_TEXT[status],
                                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
                if status in HEADERS:
                    answer["headers"] = HEADERS[status]
                responses[str(status)] = answer
            if "parameters" in spec:
                operation["parameters"] = spec["parameters"]
            if "body" in spec:
                operation["requestBody"] = spec["body"]
            if spec["security"]:
                operation["security"] = spec["security"]
            for parameter in operation.get("parameters", []):
                if path.startswith("/api/politics/") and parameter["name"] in READ_PARAMETERS:
                    parameter["schema"] = READ_PARAMETERS[parameter["name"]]
                options = parameter.get("schema", {}).get("anyOf", [])
                if {"type": "null"} in options:  # a query string has no null: an absent parameter is one
                    rest = [option for option in options if option != {"type": "null"}]
                    parameter["schema"] = {**{k: v for k, v in parameter["schema"].items() if k != "anyOf"},
                                           **(rest[0] if len(rest) == 1 else {"anyOf": rest})}
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "A token from `telemetry tokens create`."},
        "basic": {"type": "http", "scheme": "basic",
                  "description": "The token as the user name (how Segment and RudderStack send their write key); "
                                 "SDK routes also take it from the body (`writeKey`, `api_key`, `token`)."},
    }
    app.openapi_schema = document
    return document
