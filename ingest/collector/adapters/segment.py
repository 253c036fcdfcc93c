"""Segment and RudderStack HTTP tracking API (``POST /v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page``,
``/v1/screen``, ``/v1/group``, ``/v1/alias``). Both SDKs post the same JSON and authenticate with HTTP basic auth,
the write key as user name (here: a collector token).

Mapping (docs/sdks.md): ``event`` (``track``) or the message ``type`` (``identify``, ``page`` …) → event type;
``userId`` (else ``anonymousId``) → player id; ``messageId`` → event id; ``timestamp`` (else
``originalTimestamp``) → event time; ``properties`` (``traits`` for identify/group) → fields; ``anonymousId`` →
device id. ``context`` (IP,
user agent, library) is dropped.
"""

from __future__ import annotations

from typing import Any

from .common import AdapterError, SdkEvent, parse_time

MESSAGE_TYPES = ("track", "identify", "page", "screen", "group", "alias")


def message(item: Any, default_type: str | None = None) -> SdkEvent:
    if not isinstance(item, dict):
        raise AdapterError("each message must be a JSON object")
    kind = item.get("type", default_type)
    if kind not in MESSAGE_TYPES:
        raise AdapterError(f"message type must be one of {', '.join(MESSAGE_TYPES)}")
    name = item.get("event") if kind == "track" else kind
    if not isinstance(name, str) or not name:
        raise AdapterError("a track message needs an event name")
    fields = item.get("properties") if kind in ("track", "page", "screen") else item.get("traits")
    user = item.get("userId") or item.get("anonymousId")
    device = item.get("anonymousId")
    return SdkEvent(name, None if user is None else str(user), item.get("messageId"),
                    parse_time(item.get("timestamp") or item.get("originalTimestamp")),
                    dict(fields) if isinstance(fields, dict) else {}, None if device is None else str(device))


def parse(payload: Any, kind: str | None = None) -> tuple[list[SdkEvent], str | None]:
    """Messages of a ``/v1/batch`` body (``kind`` None) or of a single-message path (``kind`` = its type).

    Returns:
        The events, and the write key when the body carries one (``writeKey``).
    """
    if not isinstance(payload, dict):
        raise AdapterError("the body must be a JSON object")
    if kind is None:
        batch = payload.get("batch")
        if not isinstance(batch, list):
            raise AdapterError("/v1/batch needs a 'batch' array")
        return [message(item) for item in batch], payload.get("writeKey")
    return [message(payload, kind)], payload.get("writeKey")


def answer(count: int) -> dict[str, Any]:
    """Segment answers ``{"success": true}``; the SDKs only look at the status code."""
    return {"success": True}
